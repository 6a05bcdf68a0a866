/**
 * Fidelity of edge weights (paper §4.3; the authors' exps/fidelity_of_weight/Correlation.py): for a
 * target, knock out each lower neuron alone (set size 1) and many random sets of larger sizes; the
 * Pearson correlation between a set's summed importance (the target's stored |IG| importance) and
 * its knockout retention (share of the target's top-k patches still in its top k) is negative
 * when the weights mean something. Reported as r and |r| per set size, per layer pair (mean over
 * its strongest targets).
 */
import { throwIfAborted as checkAbort } from "../abort";
import type { Circuit } from "../circuitFormat";
import type { ClassifierModel } from "../model/loadModel";
import type { Patch } from "../patches";
import type { tf } from "../tf";
import { inProcessKnockouts, type KnockoutRunner } from "./knockoutRunner";
import type { EvaluationProgress } from "./progress";
import { sampleWithoutReplacement, seededRandom } from "./sampling";
import { mean, pearson } from "./statistics";
import { strongestTargets } from "./targetStrength";

export interface FidelityOfWeightsOptions {
  pairs?: number[];
  targets?: number;
  setSizes?: number[];
  randomSets?: number;
  k?: number;
  seed?: number;
  batchSize?: number;
  /** Where the knockouts run (default: in this thread); the caller closes it. */
  runner?: KnockoutRunner;
  onProgress?: (p: EvaluationProgress) => void;
  signal?: AbortSignal;
}

export const FIDELITY_OF_WEIGHTS_DEFAULTS = {
  targets: 1,
  setSizes: [1, 5, 10, 20, 50],
  randomSets: 500,
  k: 50,
  seed: 0,
} as const;

export interface WeightCorrelation {
  size: number;
  /** Sets knocked out (every neuron for size 1). */
  sets: number;
  r: number;
}

export interface FidelityOfWeightsPair {
  pairIndex: number;
  upper: string;
  lower: string;
  targets: { neuron: number; correlations: WeightCorrelation[] }[];
  /** Per set size: mean r and mean |r| over the targets. */
  summary: { size: number; r: number; absR: number }[];
}

export interface FidelityOfWeightsResult {
  kind: "fidelityOfWeights";
  params: { pairs: number[]; targets: number; setSizes: number[]; randomSets: number; k: number; seed: number };
  pairs: FidelityOfWeightsPair[];
  skipped: { pairIndex: number; size: number; reason: string }[];
  seconds: number;
}

export async function fidelityOfWeights(
  circuit: Circuit,
  model: ClassifierModel,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  options: FidelityOfWeightsOptions = {},
): Promise<FidelityOfWeightsResult> {
  const started = performance.now();
  const runner = options.runner ?? inProcessKnockouts({ model, images, patches });
  const targetCount = options.targets ?? FIDELITY_OF_WEIGHTS_DEFAULTS.targets;
  const sizes = options.setSizes ?? [...FIDELITY_OF_WEIGHTS_DEFAULTS.setSizes];
  const R = options.randomSets ?? FIDELITY_OF_WEIGHTS_DEFAULTS.randomSets;
  const k = options.k ?? FIDELITY_OF_WEIGHTS_DEFAULTS.k;
  const seed = options.seed ?? FIDELITY_OF_WEIGHTS_DEFAULTS.seed;
  const pairs = options.pairs ?? circuit.layers.map((_, i) => i);
  for (const p of pairs)
    if (!circuit.layers[p]) throw new Error(`the circuit has no layer pair ${p} (it has ${circuit.layers.length})`);
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error("every set size must be a positive integer");
  if (!(R >= 2 && targetCount >= 1 && k >= 1))
    throw new Error("random sets must be at least 2, targets and k at least 1");
  if (k > patches.length) throw new Error(`k = ${k} is more than the circuit's ${patches.length} patches`);

  const plan = pairs.map((p) => ({
    p,
    targets: strongestTargets(circuit, p, targetCount),
    channels: circuit.layers[p]!.targets[0]!.importance.length,
  }));
  const total = plan.reduce(
    (a, x) => a + x.targets.length * sizes.reduce((b, s) => b + (s === 1 ? x.channels : R) + 1, 0),
    0,
  );
  let done = 0;
  const out: FidelityOfWeightsPair[] = [];
  const skipped: FidelityOfWeightsResult["skipped"] = [];
  try {
    for (const { p, targets, channels } of plan) {
      checkAbort(options.signal);
      const layer = circuit.layers[p]!;
      options.onProgress?.({
        done,
        total,
        message: `${layer.upper}←${layer.lower}: lower maps of ${patches.length} patches`,
      });
      const lowerChannels = await runner.open(layer.lower, layer.upper, options.batchSize);
      if (lowerChannels !== channels)
        throw new Error(`layer "${layer.lower}" has ${lowerChannels} channels, the circuit's importance ${channels}`);
      const byNeuron = new Map(layer.targets.map((t) => [t.neuron, t]));
      const rows: FidelityOfWeightsPair["targets"] = [];
      for (const neuron of targets) {
        const importance = byNeuron.get(neuron)!.importance;
        const correlations: WeightCorrelation[] = [];
        for (const size of sizes) {
          checkAbort(options.signal);
          if (size >= channels) {
            if (neuron === targets[0])
              skipped.push({
                pairIndex: p,
                size,
                reason: `layer "${layer.lower}" has ${channels} channels, not more than ${size}`,
              });
            done += R + 1;
            continue;
          }
          const random = seededRandom((seed * 1000003 + p * 7919 + size * 104729 + neuron) >>> 0);
          const sets =
            size === 1
              ? Array.from({ length: channels }, (_, c) => [c])
              : Array.from({ length: R }, () => sampleWithoutReplacement(channels, size, random));
          const base = done;
          const { retention } = await runner.retentions(neuron, k, sets, (d) => {
            checkAbort(options.signal);
            options.onProgress?.({
              done: base + d,
              total,
              message: `${layer.upper}←${layer.lower}: target ${neuron}, sets of ${size}`,
            });
          });
          done += sets.length + 1;
          const summed = sets.map((s) => s.reduce((a, c) => a + importance[c]!, 0));
          correlations.push({ size, sets: sets.length, r: pearson(summed, retention) });
        }
        rows.push({ neuron, correlations });
      }
      const summary = sizes.flatMap((size) => {
        const rs = rows.flatMap((t) => t.correlations.filter((c) => c.size === size).map((c) => c.r));
        return rs.length ? [{ size, r: mean(rs), absR: mean(rs.map(Math.abs)) }] : [];
      });
      out.push({ pairIndex: p, upper: layer.upper, lower: layer.lower, targets: rows, summary });
    }
  } finally {
    if (!options.runner) await runner.close();
  }
  options.onProgress?.({ done: total, total, message: "done" });
  return {
    kind: "fidelityOfWeights",
    params: { pairs, targets: targetCount, setSizes: sizes, randomSets: R, k, seed },
    pairs: out,
    skipped,
    seconds: (performance.now() - started) / 1000,
  };
}
