/**
 * The faithfulness curve of a circuit: how much of the class logit the network keeps when, at the
 * masked layers, only a subset of neurons (the circuit's neurons visible at a threshold) is kept and
 * every other channel is zeroed (retain, all masked layers at once, the paper's masking), against
 * random subsets with as many neurons per layer.
 *
 * The measure is the **logit retained**, normalised between the empty and the full network:
 *
 *   retained(S) = (mean z_c(S) − mean z_c(∅)) / (mean z_c(full) − mean z_c(∅))
 *
 * z_c is the class logit, averaged over the images; ∅ keeps no neuron of the masked layers; full
 * masks nothing. 1 = the network's own logit, 0 = no more than with the masked layers emptied; it
 * can exceed 1 when the subset drops neurons that voted against the class. Accuracy is reported
 * next to it but saturates: on the class's own images a network whose masked layers are emptied
 * often still predicts the class (every logit near its bias), so accuracy cannot tell a circuit from
 * nothing (docs/evaluations-ui.md, "Faithfulness curve").
 *
 * The random baseline draws `draws` subsets uniformly (seeded) with the subset's neuron count per
 * layer; it reports the mean, the central `interval` of the draws (percentiles, linear
 * interpolation) and how many draws retained at least as much as the subset. Subsets with the same
 * counts share their draws.
 */
import { throwIfAborted as checkAbort } from "../abort";
import type { Circuit } from "../circuitFormat";
import { accuracyOf, layerWidth, maskedLogits, type LayerMask, type MaskedPrediction } from "../masking";
import type { ClassifierModel } from "../model/loadModel";
import type { tf } from "../tf";
import { faithfulnessLayers } from "./faithfulnessLayers";
import type { EvaluationProgress } from "./progress";
import { sampleWithoutReplacement, seededRandom } from "./sampling";
import { mean } from "./statistics";

export const FAITHFULNESS_CURVE_DEFAULTS = { draws: 50, seed: 0, interval: 0.9 } as const;

export interface FaithfulnessCurveOptions {
  /** Channels kept per masked layer (one list per layer of `layers`), one entry per point of the curve. */
  subsets: number[][][];
  /** The masked layers; default `faithfulnessLayers(circuit)`. */
  layers?: string[];
  /** Random subsets per distinct neuron count (0: no baseline). */
  draws?: number;
  seed?: number;
  /** Central share of the random draws reported as the band (0.9: 5th–95th percentile). */
  interval?: number;
  batchSize?: number;
  onProgress?: (p: EvaluationProgress) => void;
  signal?: AbortSignal;
}

export interface FaithfulnessReference {
  /** Mean class logit over the images. */
  logit: number;
  accuracy: number;
}

export interface FaithfulnessRandom {
  draws: number;
  /** Logit retained of each draw, in draw order. */
  values: number[];
  mean: number;
  /** The central `interval` of the draws. */
  low: number;
  high: number;
  /** Draws that retained at least as much as the subset. */
  atLeast: number;
  accuracyMean: number;
}

export interface FaithfulnessCurvePoint {
  /** Neurons kept per masked layer. */
  neurons: number[];
  logit: number;
  /** Normalised logit retained; null when the full and the empty network give the same mean logit. */
  logitRetained: number | null;
  accuracy: number;
  random: FaithfulnessRandom | null;
}

export interface FaithfulnessCurveResult {
  kind: "faithfulnessCurve";
  metric: "logitRetained";
  layers: string[];
  /** Channels of each masked layer. */
  widths: number[];
  images: number;
  classIndex: number;
  full: FaithfulnessReference;
  empty: FaithfulnessReference;
  draws: number;
  seed: number;
  interval: number;
  points: FaithfulnessCurvePoint[];
  seconds: number;
}

/** Value at quantile q (0..1) of sorted values, linear interpolation between order statistics. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function meanClassLogit(p: MaskedPrediction, classIndex: number): number {
  const n = p.logits.length / p.classes;
  let s = 0;
  for (let r = 0; r < n; r++) s += p.logits[r * p.classes + classIndex]!;
  return n ? s / n : NaN;
}

export async function faithfulnessCurve(
  circuit: Circuit,
  model: ClassifierModel,
  images: tf.Tensor4D,
  options: FaithfulnessCurveOptions,
): Promise<FaithfulnessCurveResult> {
  const started = performance.now();
  const layers = options.layers ?? faithfulnessLayers(circuit);
  const draws = options.draws ?? FAITHFULNESS_CURVE_DEFAULTS.draws;
  const seed = options.seed ?? FAITHFULNESS_CURVE_DEFAULTS.seed;
  const interval = options.interval ?? FAITHFULNESS_CURVE_DEFAULTS.interval;
  if (!(Number.isInteger(draws) && draws >= 0)) throw new Error("draws must be a whole number ≥ 0");
  if (!(interval > 0 && interval < 1)) throw new Error("interval must be between 0 and 1");
  if (layers.length === 0) throw new Error("the circuit has no layer below the logit to keep neurons in");
  const classIndex = circuit.class.index;
  const widths = layers.map((l) => layerWidth(model, images, l));
  for (const [i, s] of options.subsets.entries()) {
    if (s.length !== layers.length)
      throw new Error(`subset ${i} has ${s.length} layers; the curve masks ${layers.length} (${layers.join(", ")})`);
    s.forEach((channels, j) => {
      if (new Set(channels).size !== channels.length) throw new Error(`subset ${i} repeats a channel of ${layers[j]}`);
    });
  }
  const countKeys = [...new Set(options.subsets.map((s) => s.map((c) => c.length).join(",")))];
  const total = 2 + options.subsets.length + countKeys.length * draws;
  let done = 0;
  const step = (message: string) => options.onProgress?.({ done: ++done, total, message });

  const run = async (keep: readonly (readonly number[])[] | null) => {
    checkAbort(options.signal);
    const masks: LayerMask[] = keep ? layers.map((layer, j) => ({ layer, channels: keep[j]!, mode: "retain" })) : [];
    const p = await maskedLogits(model, images, masks, options.batchSize);
    return { logit: meanClassLogit(p, classIndex), accuracy: accuracyOf(p, classIndex) };
  };
  const full = await run(null);
  step("the full network");
  const empty = await run(layers.map(() => []));
  step("the masked layers emptied");
  const span = full.logit - empty.logit;
  const degenerate = !(Math.abs(span) > 1e-6 * Math.max(1, Math.abs(full.logit)));
  const retained = (logit: number) => (degenerate ? null : (logit - empty.logit) / span);

  const randomByCounts = new Map<string, { values: number[]; accuracies: number[] }>();
  for (const [ki, key] of countKeys.entries()) {
    if (draws === 0) break;
    const counts = key.split(",").map(Number);
    // one generator per neuron count, seeded by the counts: the same subset size gets the same draws
    const random = seededRandom((seed * 1000003 + counts.reduce((h, c) => h * 31 + c + 1, 7)) >>> 0);
    const values: number[] = [];
    const accuracies: number[] = [];
    for (let d = 0; d < draws; d++) {
      const r = await run(counts.map((k, j) => sampleWithoutReplacement(widths[j]!, k, random)));
      values.push(retained(r.logit) ?? NaN);
      accuracies.push(r.accuracy);
      step(`random subsets: size ${ki + 1}/${countKeys.length}, draw ${d + 1}/${draws}`);
    }
    randomByCounts.set(key, { values, accuracies });
  }

  const points: FaithfulnessCurvePoint[] = [];
  for (const [i, keep] of options.subsets.entries()) {
    const r = await run(keep);
    step(`subset ${i + 1}/${options.subsets.length}`);
    const logitRetained = retained(r.logit);
    const rnd = randomByCounts.get(keep.map((c) => c.length).join(","));
    let random: FaithfulnessRandom | null = null;
    if (rnd && !degenerate) {
      const sorted = [...rnd.values].sort((a, b) => a - b);
      random = {
        draws,
        values: rnd.values,
        mean: mean(rnd.values),
        low: quantileSorted(sorted, (1 - interval) / 2),
        high: quantileSorted(sorted, 1 - (1 - interval) / 2),
        atLeast: rnd.values.filter((v) => v >= logitRetained!).length,
        accuracyMean: mean(rnd.accuracies),
      };
    }
    points.push({ neurons: keep.map((c) => c.length), logit: r.logit, logitRetained, accuracy: r.accuracy, random });
  }
  return {
    kind: "faithfulnessCurve",
    metric: "logitRetained",
    layers,
    widths,
    images: images.shape[0],
    classIndex,
    full,
    empty,
    draws,
    seed,
    interval,
    points,
    seconds: (performance.now() - started) / 1000,
  };
}
