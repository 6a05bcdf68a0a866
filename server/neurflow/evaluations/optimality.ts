/**
 * Optimality of core concept neurons (paper §4.1; the authors' exps/optimality_of_neuron): for the
 * strongest targets of a layer, knock out the target's τ core neurons and, separately, many random
 * τ-sets of the same lower layer; the knockout *retention* is the share of the target's top-k
 * patches that stay in its top k. Core sets should disrupt more, i.e. retain less: the figure of
 * merit is retention(random) − retention(core), reported as a mean with a 99% confidence interval
 * over every (target, random set) case, with the cases where a random set beats the core set
 * (retains less). A target's τ core neurons are the τ lower channels of largest stored importance
 * (what the engine selects at that τ), so one circuit serves every τ up to the lower layer's width.
 */
import { throwIfAborted as checkAbort } from "../abort";
import { topIndices } from "../coreNeurons";
import type { Circuit } from "../circuitFormat";
import type { ClassifierModel } from "../model/loadModel";
import type { Patch } from "../patches";
import type { tf } from "../tf";
import { inProcessKnockouts, type KnockoutRunner } from "./knockoutRunner";
import { sampleWithoutReplacement, seededRandom } from "./sampling";
import { meanInterval, type MeanInterval } from "./statistics";
import { strongestTargets } from "./targetStrength";
import type { EvaluationProgress } from "./progress";

export interface OptimalityOptions {
  /** Circuit layer pairs to test (targets in the upper layer, knockouts in the lower). Default: all. */
  pairs?: number[];
  taus?: number[];
  targets?: number;
  randomSets?: number;
  k?: number;
  seed?: number;
  batchSize?: number;
  /** Where the knockouts run (default: in this thread); the caller closes it. */
  runner?: KnockoutRunner;
  onProgress?: (p: EvaluationProgress) => void;
  signal?: AbortSignal;
}

export const OPTIMALITY_DEFAULTS = { taus: [10, 30, 50], targets: 5, randomSets: 100, k: 50, seed: 0 } as const;

export interface OptimalityTarget {
  neuron: number;
  core: number[];
  coreRetention: number;
  randomRetentions: number[];
  /** mean(random) − core. */
  meanDifference: number;
}

export interface OptimalityCell {
  pairIndex: number;
  upper: string;
  lower: string;
  tau: number;
  targets: OptimalityTarget[];
  /** random − core over every (target, random set). */
  difference: MeanInterval;
  cases: number;
  /** Random set retains less than the core set (the core set is not optimal there). */
  randomBeatsCore: number;
  ties: number;
  coreBeatsRandom: number;
}

export interface OptimalityResult {
  kind: "optimality";
  params: { taus: number[]; targets: number; randomSets: number; k: number; seed: number; pairs: number[] };
  cells: OptimalityCell[];
  /** τ values skipped per pair because the lower layer is not wider than τ. */
  skipped: { pairIndex: number; tau: number; reason: string }[];
  seconds: number;
}

export async function optimality(
  circuit: Circuit,
  model: ClassifierModel,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  options: OptimalityOptions = {},
): Promise<OptimalityResult> {
  const started = performance.now();
  const runner = options.runner ?? inProcessKnockouts({ model, images, patches });
  const taus = options.taus ?? [...OPTIMALITY_DEFAULTS.taus];
  const targetCount = options.targets ?? OPTIMALITY_DEFAULTS.targets;
  const R = options.randomSets ?? OPTIMALITY_DEFAULTS.randomSets;
  const k = options.k ?? OPTIMALITY_DEFAULTS.k;
  const seed = options.seed ?? OPTIMALITY_DEFAULTS.seed;
  const pairs = options.pairs ?? circuit.layers.map((_, i) => i);
  for (const p of pairs)
    if (!circuit.layers[p]) throw new Error(`the circuit has no layer pair ${p} (it has ${circuit.layers.length})`);
  if (taus.some((t) => !Number.isInteger(t) || t < 1)) throw new Error("every τ must be a positive integer");
  if (!(R >= 1 && targetCount >= 1 && k >= 1)) throw new Error("targets, random sets and k must be at least 1");
  if (k > patches.length) throw new Error(`k = ${k} is more than the circuit's ${patches.length} patches`);

  const plan = pairs.map((p) => ({ p, targets: strongestTargets(circuit, p, targetCount) }));
  const total = plan.reduce((a, x) => a + x.targets.length * taus.length * (R + 1), 0);
  let done = 0;
  const cells: OptimalityCell[] = [];
  const skipped: OptimalityResult["skipped"] = [];
  try {
    for (const { p, targets } of plan) {
      checkAbort(options.signal);
      const layer = circuit.layers[p]!;
      options.onProgress?.({
        done,
        total,
        message: `${layer.upper}←${layer.lower}: lower maps of ${patches.length} patches`,
      });
      const lowerChannels = await runner.open(layer.lower, layer.upper, options.batchSize);
      const byNeuron = new Map(layer.targets.map((t) => [t.neuron, t]));
      for (const tau of taus) {
        if (tau >= lowerChannels) {
          skipped.push({
            pairIndex: p,
            tau,
            reason: `layer "${layer.lower}" has ${lowerChannels} channels, not more than τ = ${tau}`,
          });
          done += targets.length * (R + 1);
          continue;
        }
        const rows: OptimalityTarget[] = [];
        const diffs: number[] = [];
        let randomBeatsCore = 0;
        let ties = 0;
        let coreBeatsRandom = 0;
        for (const neuron of targets) {
          checkAbort(options.signal);
          const core = topIndices(byNeuron.get(neuron)!.importance, tau);
          const random = seededRandom((seed * 1000003 + p * 7919 + tau * 104729 + neuron) >>> 0);
          const sets = [core, ...Array.from({ length: R }, () => sampleWithoutReplacement(lowerChannels, tau, random))];
          const base = done;
          const { retention } = await runner.retentions(neuron, k, sets, (d) => {
            checkAbort(options.signal);
            options.onProgress?.({
              done: base + d,
              total,
              message: `${layer.upper}←${layer.lower}, τ ${tau}: target ${neuron}`,
            });
          });
          done += sets.length;
          const coreRetention = retention[0]!;
          const randomRetentions = Array.from(retention.subarray(1));
          for (const r of randomRetentions) {
            diffs.push(r - coreRetention);
            if (r < coreRetention) randomBeatsCore++;
            else if (r === coreRetention) ties++;
            else coreBeatsRandom++;
          }
          const m = randomRetentions.reduce((a, b) => a + b, 0) / R;
          rows.push({ neuron, core, coreRetention, randomRetentions, meanDifference: m - coreRetention });
        }
        cells.push({
          pairIndex: p,
          upper: layer.upper,
          lower: layer.lower,
          tau,
          targets: rows,
          difference: meanInterval(diffs, 0.99),
          cases: diffs.length,
          randomBeatsCore,
          ties,
          coreBeatsRandom,
        });
      }
    }
  } finally {
    if (!options.runner) await runner.close();
  }
  options.onProgress?.({ done: total, total, message: "done" });
  return {
    kind: "optimality",
    params: { taus, targets: targetCount, randomSets: R, k, seed, pairs },
    cells,
    skipped,
    seconds: (performance.now() - started) / 1000,
  };
}
