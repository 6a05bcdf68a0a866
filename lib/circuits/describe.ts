/**
 * The circuit's parameters and layers said in the user's words (isomorphic: the summary page and
 * the labels panels use it): what a layer entry holds, what an importance aggregation means, and
 * the one definition of a layer pair's seconds shared by the run page and the summary page.
 */

/** What the groups of layer entry `index` are, e.g. "the class logit's concept groups, from layer4.1". */
export function layerEntryName(index: number, upper: string, lower: string): string {
  return index === 0
    ? `the class logit's concept groups (core neurons in ${lower})`
    : `neuron groups of ${upper} (core neurons in ${lower})`;
}

/** A group or edge of layer entry `index`, named by its layer: "layer4.1 · g2". */
export function groupName(layer: string | undefined, index: number, group: number | undefined): string {
  return `${layer ?? `layer pair ${index + 1}`} · g${group ?? "?"}`;
}

export const IMPORTANCE_MEANINGS: Record<string, string> = {
  absMean: "|mean IG| over the target's top patches (signed scores averaged, then made positive; the authors' code)",
  meanAbs: "mean |IG| over the target's top patches (the paper's Eq. 2)",
};

/** How a channel's importance to its target is aggregated over the top patches, in words. */
export function importanceMeaning(importance: string): string {
  return IMPORTANCE_MEANINGS[importance] ?? importance;
}

/**
 * Seconds of a layer pair: the engine's own time for it (feature maps, integrated gradients,
 * clustering, neuron groups — its `timings.total`, else the sum of its stages). Loading the model
 * and computing the activations, shared by every pair, are not in it. Null without timings.
 */
export function layerSeconds(timings: Record<string, number> | null | undefined): number | null {
  if (!timings) return null;
  if (typeof timings.total === "number") return timings.total;
  const stages = Object.values(timings).filter((v) => typeof v === "number");
  return stages.length ? stages.reduce((a, b) => a + b, 0) : null;
}
