/**
 * Edge weights from a target's semantic groups to its core neurons. For each semantic group g, the
 * mean over g's patches of the signed IG score of each core neuron is normalised:
 *   "sequential" (the authors' code): the means are rescaled one after another, in core-neuron
 *     order, each divided by (Σ of the absolute values of the current list + 1e-7) — where the
 *     entries before it are already rescaled. This is what their implementation computes.
 *   "sum" (the paper's equation): each mean divided by (Σ over core neurons of |mean| + 1e-7).
 */
import type { CircuitEdge } from "./circuitFormat";

export type EdgeNormalization = "sequential" | "sum";

export function normalizeEdgeWeights(means: readonly number[], mode: EdgeNormalization): number[] {
  const out = [...means];
  if (mode === "sum") {
    const norm = out.reduce((a, m) => a + Math.abs(m), 0) + 1e-7;
    return out.map((m) => m / norm);
  }
  for (let i = 0; i < out.length; i++) {
    const norm = out.reduce((a, m) => a + Math.abs(m), 0) + 1e-7;
    out[i] = out[i]! / norm;
  }
  return out;
}

export function edgeWeights(
  perPatch: Float32Array,
  channels: number,
  semanticGroups: readonly number[],
  coreNeurons: readonly number[],
  mode: EdgeNormalization,
): CircuitEdge[] {
  const groups = [...new Set(semanticGroups)].sort((a, b) => a - b);
  const edges: CircuitEdge[] = [];
  for (const g of groups) {
    const means = coreNeurons.map((c) => {
      let s = 0;
      let n = 0;
      semanticGroups.forEach((lab, p) => {
        if (lab === g) {
          s += perPatch[p * channels + c]!;
          n++;
        }
      });
      return s / n;
    });
    const weights = normalizeEdgeWeights(means, mode);
    coreNeurons.forEach((c, i) => edges.push({ semanticGroup: g, neuron: c, weight: weights[i]! }));
  }
  return edges;
}
