/**
 * Class dependence of a circuit's neuron groups (docs/evaluations.md, "Class dependence"): for
 * every neuron group, its causal share of the class — the drop of the class logit and the
 * prediction flips when the group's neurons are masked (zeroed, as `maskGroups` does) — against
 * random neuron sets of the same size in the same layer, on the class images and on the false
 * positives (images of other classes the model assigns to the class, topped up with the other
 * images nearest to it). Groups the class depends on that look like context rather than the object
 * (a high share on the false positives, metric M on them about as high as on the class images) are
 * flagged as bias candidates, with their concept patches and the false positives they explain.
 *
 * The masked logits come from the knockout machinery: each layer's maps are computed once, the
 * convolutions reading them linearly are run once, and a masked set only subtracts its own
 * channels' part (`knockoutSlice`, `knockoutOutputs`). Deterministic under the seed.
 */
import { throwIfAborted as checkAbort } from "../abort";
import { computeActivations } from "../activations";
import { conceptPatchesOf } from "../conceptPatches";
import type { Circuit } from "../circuitFormat";
import { maskedLogits } from "../masking";
import { groupReferences, metricMOfCrops } from "../metricM";
import type { ClassifierModel } from "../model/loadModel";
import { patchGrid, type Patch } from "../patches";
import { tf } from "../tf";
import { disposeSlice, knockoutOutputs, knockoutSlice } from "./knockout";
import type { EvaluationProgress } from "./progress";
import { sampleWithoutReplacement, seededRandom } from "./sampling";
import { meanInterval } from "./statistics";

export const CLASS_DEPENDENCE_DEFAULTS = {
  /** Random neuron sets per (layer, group size). */
  draws: 200,
  seed: 0,
  /** Two-sided level of the random sets' percentile interval and of the group's t interval. */
  level: 0.95,
  /** Size of the false-positive set (true false positives first, then the nearest misses). */
  falsePositives: 16,
  /** Metric M on the false positives / metric M on the class images at or above which a group looks like context. */
  contextRatio: 0.5,
  /** Share of the false positives proper a bias candidate must explain. */
  minExplained: 0.5,
  /** Metric M at or above which a crop shows the concept (the authors' threshold). */
  mThreshold: 0.6,
  /** Concept patches listed per group. */
  conceptPatches: 8,
} as const;

export interface ClassDependenceOptions {
  draws?: number;
  seed?: number;
  level?: number;
  falsePositives?: number;
  contextRatio?: number;
  minExplained?: number;
  mThreshold?: number;
  conceptPatches?: number;
  /** Circuit layer pairs whose (upper-layer) groups are measured; default every pair but the logit's own (1, 2, …). */
  pairs?: number[];
  batchSize?: number;
  onProgress?: (p: EvaluationProgress) => void;
  signal?: AbortSignal;
}

export interface ClassDependenceImages {
  /** The class's images, normalised [N, S, S, 3] (usually the circuit's own). */
  classImages: tf.Tensor4D;
  /** Images of other classes, normalised [M, S, S, 3]. */
  otherImages: tf.Tensor4D;
  /** Names of the other images (reported with the false positives). */
  otherNames?: string[];
  /** True class index of each other image (optional; must not be the circuit's class). */
  otherClasses?: number[];
}

/** A masking effect on one set of images, against random sets of equal size. */
export interface DependenceEffect {
  images: number;
  /** Mean drop of the class logit (unmasked − masked) with the group masked, and its t interval over the images. */
  logitDrop: number;
  logitDropInterval: [number, number];
  /** Mean class logit unmasked; the share is logitDrop / that (when it is positive). */
  logit: number;
  /** Share of the images predicted as the class that are no longer predicted as the class. */
  flips: number;
  /** Images predicted as the class before masking (the flips' denominator). */
  predicted: number;
  random: {
    /** Mean over the draws of each draw's mean logit drop, and the draws' percentile interval. */
    mean: number;
    low: number;
    high: number;
    flipsMean: number;
    flipsLow: number;
    flipsHigh: number;
  };
  /** Share of random draws whose mean drop is below the group's (ties count half). */
  percentile: number;
  /** One-sided: (1 + draws with a drop ≥ the group's) / (1 + draws). */
  pValue: number;
  /** The group's drop is above the random interval's upper end. */
  exceedsRandom: boolean;
}

export interface FalsePositive {
  /** Index in the other images. */
  image: number;
  name?: string;
  trueClass?: number;
  /** The model assigns it to the class (a false positive proper); false: a nearest miss. */
  assigned: boolean;
  /** Class logit and margin (class logit − the best other logit). */
  logit: number;
  margin: number;
}

export interface GroupDependence {
  rank: number;
  pairIndex: number;
  layer: string;
  groupId: number;
  neurons: number[];
  layerWidth: number;
  /** Drop above random (group − random mean) on the class images: the ranking key. */
  excessDrop: number;
  classImages: DependenceEffect;
  /** On the false positives proper (other images assigned to the class); null when there are none. */
  falsePositives: DependenceEffect | null;
  /** On the nearest misses (other images not assigned to the class, largest class margin); null when there are none. */
  nearMisses: DependenceEffect | null;
  metricM: {
    /** Mean over images of the best-crop M, and the share of images with a crop ≥ mThreshold. */
    classImages: number;
    classShows: number;
    falsePositives: number | null;
    falsePositiveShows: number | null;
    nearMisses: number | null;
  };
  /**
   * Indices into the report's `falsePositives` list (false positives proper and nearest misses) whose
   * class logit the group lowers more than the random sets' upper percentile on that image.
   */
  explains: number[];
  /** Explained false positives proper that masking the group flips away from the class. */
  flipsFalsePositives: number[];
  biasCandidate: boolean;
  /** Why the group is (or is not) a bias candidate: the three conditions. */
  flag: { classDependence: boolean; falsePositiveShare: boolean; contextLike: boolean };
  /** The group's concept patches (circuit patch index, [image, x, y, size], activation / reference), strongest first. */
  conceptPatches: { patch: number; box: [number, number, number, number]; image: string; score: number }[];
}

export interface ClassDependenceResult {
  kind: "classDependence";
  class: { index: number; name: string };
  params: {
    draws: number;
    seed: number;
    level: number;
    falsePositiveLimit: number;
    contextRatio: number;
    minExplained: number;
    mThreshold: number;
    pairs: number[];
    classImages: number;
    otherImages: number;
  };
  /** Accuracy on the class images and share of the other images assigned to the class, unmasked. */
  unmasked: { classAccuracy: number; otherAssigned: number };
  falsePositives: FalsePositive[];
  /** Ranked by excess drop on the class images, largest first. */
  groups: GroupDependence[];
  seconds: number;
}

/** Quantile of sorted values (linear interpolation, numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Where `value` lies among `draws`: percentile (ties half), one-sided p of a draw ≥ value. */
export function rankAmong(value: number, draws: ArrayLike<number>): { percentile: number; pValue: number } {
  let below = 0;
  let ties = 0;
  for (let i = 0; i < draws.length; i++) {
    if (draws[i]! < value) below++;
    else if (draws[i]! === value) ties++;
  }
  const n = draws.length;
  return {
    percentile: n ? (below + ties / 2) / n : NaN,
    pValue: (1 + (n - below)) / (1 + n),
  };
}

function argmaxRow(logits: Float32Array, row: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[row * classes + c]! > logits[row * classes + best]!) best = c;
  return best;
}

/** The false-positive set: images assigned to the class (most confident first), then the nearest misses. */
export function chooseFalsePositives(
  logits: Float32Array,
  classes: number,
  cls: number,
  limit: number,
): { image: number; assigned: boolean; logit: number; margin: number }[] {
  const rows = logits.length / classes;
  const all = Array.from({ length: rows }, (_, r) => {
    let other = -Infinity;
    for (let c = 0; c < classes; c++) if (c !== cls) other = Math.max(other, logits[r * classes + c]!);
    const logit = logits[r * classes + cls]!;
    return { image: r, assigned: argmaxRow(logits, r, classes) === cls, logit, margin: logit - other };
  });
  all.sort((a, b) => Number(b.assigned) - Number(a.assigned) || b.margin - a.margin || a.image - b.image);
  return all.slice(0, Math.max(limit, 0));
}

interface Measured {
  /** Per image of the set: class logit drop. */
  drops: Float64Array;
  flips: number;
  predicted: number;
  mean: number;
}

function measure(
  base: Float32Array,
  masked: Float32Array,
  classes: number,
  cls: number,
  rows: readonly number[],
): Measured {
  const drops = new Float64Array(rows.length);
  let flips = 0;
  let predicted = 0;
  rows.forEach((r, i) => {
    drops[i] = base[r * classes + cls]! - masked[r * classes + cls]!;
    if (argmaxRow(base, r, classes) === cls) {
      predicted++;
      if (argmaxRow(masked, r, classes) !== cls) flips++;
    }
  });
  let s = 0;
  for (const d of drops) s += d;
  return { drops, flips: predicted ? flips / predicted : 0, predicted, mean: rows.length ? s / rows.length : NaN };
}

function effect(
  group: Measured,
  random: Measured[],
  base: Float32Array,
  classes: number,
  cls: number,
  rows: readonly number[],
  level: number,
): DependenceEffect {
  const lo = (1 - level) / 2;
  const means = Float64Array.from(random.map((r) => r.mean)).sort();
  const flips = Float64Array.from(random.map((r) => r.flips)).sort();
  const t = meanInterval(group.drops, level);
  const { percentile, pValue } = rankAmong(
    group.mean,
    random.map((r) => r.mean),
  );
  const high = quantile(means, 1 - lo);
  let logit = 0;
  for (const r of rows) logit += base[r * classes + cls]!;
  return {
    images: rows.length,
    logitDrop: group.mean,
    logitDropInterval: [t.low, t.high],
    logit: rows.length ? logit / rows.length : NaN,
    flips: group.flips,
    predicted: group.predicted,
    random: {
      mean: means.reduce((a, b) => a + b, 0) / Math.max(means.length, 1),
      low: quantile(means, lo),
      high,
      flipsMean: flips.reduce((a, b) => a + b, 0) / Math.max(flips.length, 1),
      flipsLow: quantile(flips, lo),
      flipsHigh: quantile(flips, 1 - lo),
    },
    percentile,
    pValue,
    exceedsRandom: group.mean > high,
  };
}

/** Best-crop metric M of every group of the given layer pairs on each image (the circuit's crops), in one pass. */
async function metricMOfGroups(
  circuit: Circuit,
  model: ClassifierModel,
  images: tf.Tensor4D,
  pairs: readonly number[],
  batchSize: number,
): Promise<Map<string, Float64Array>> {
  const N = images.shape[0];
  const patches: Patch[] = patchGrid(N, images.shape[1], circuit.params.granularities, circuit.params.strideRatio);
  const tensors = [...new Set(pairs.map((p) => model.layerTensor(circuit.layers[p]!.upper)))];
  const acts = await computeActivations(model.graph, images, patches, tensors, batchSize);
  const inputOf = patches.map((p) => p[0]);
  const out = new Map<string, Float64Array>();
  for (const p of pairs) {
    const a = acts[tensors.indexOf(model.layerTensor(circuit.layers[p]!.upper))]!;
    for (const ref of groupReferences(circuit, p))
      out.set(`${p}:${ref.groupId}`, metricMOfCrops(a.means, a.channels, ref, inputOf, N).perInput);
  }
  return out;
}

const meanOf = (xs: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return xs.length ? s / xs.length : NaN;
};
const shareAtLeast = (xs: ArrayLike<number>, t: number) => {
  let n = 0;
  for (let i = 0; i < xs.length; i++) if (xs[i]! >= t) n++;
  return xs.length ? n / xs.length : NaN;
};

export async function classDependence(
  circuit: Circuit,
  model: ClassifierModel,
  data: ClassDependenceImages,
  options: ClassDependenceOptions = {},
): Promise<ClassDependenceResult> {
  const started = performance.now();
  const D = CLASS_DEPENDENCE_DEFAULTS;
  const draws = options.draws ?? D.draws;
  const seed = options.seed ?? D.seed;
  const level = options.level ?? D.level;
  const fpLimit = options.falsePositives ?? D.falsePositives;
  const contextRatio = options.contextRatio ?? D.contextRatio;
  const mThreshold = options.mThreshold ?? D.mThreshold;
  const minExplained = options.minExplained ?? D.minExplained;
  const batchSize = options.batchSize ?? 64;
  if (!(Number.isInteger(draws) && draws >= 1)) throw new Error(`draws must be a positive integer, got ${draws}`);
  if (!(level > 0 && level < 1)) throw new Error(`level must be in (0, 1), got ${level}`);
  const cls = circuit.class.index;
  const pairs = options.pairs ?? circuit.layers.map((_, i) => i).filter((i) => i >= 1);
  for (const p of pairs) {
    if (!circuit.layers[p]) throw new Error(`the circuit has no layer pair ${p} (it has ${circuit.layers.length})`);
    if (p === 0)
      throw new Error(`layer pair 0's groups are units of "${circuit.layers[0]!.upper}", the class logit itself`);
  }
  if (data.otherClasses?.some((c) => c === cls))
    throw new Error(`the other images include images of the class "${circuit.class.name}"`);
  const N = data.classImages.shape[0];
  const M = data.otherImages.shape[0];
  const S = model.manifest.input.size;
  if (N === 0) throw new Error("the class-dependence report needs at least one class image");

  // unmasked logits of every other image: the false-positive set
  const otherBase = await maskedLogits(model, data.otherImages, [], batchSize);
  const classes = otherBase.classes;
  let otherAssigned = 0;
  for (let r = 0; r < M; r++) if (argmaxRow(otherBase.logits, r, classes) === cls) otherAssigned++;
  const fps = chooseFalsePositives(otherBase.logits, classes, cls, fpLimit).map(
    (f): FalsePositive => ({
      ...f,
      ...(data.otherNames ? { name: data.otherNames[f.image]! } : {}),
      ...(data.otherClasses ? { trueClass: data.otherClasses[f.image]! } : {}),
    }),
  );
  const F = fps.length;
  // one batch: the class images, then the false positives
  const all = tf.tidy(() =>
    F
      ? tf.concat(
          [
            data.classImages,
            tf.gather(
              data.otherImages,
              fps.map((f) => f.image),
            ),
          ],
          0,
        )
      : data.classImages.clone(),
  ) as tf.Tensor4D;
  const wholes: Patch[] = Array.from({ length: N + F }, (_, i) => [i, 0, 0, S]);
  const classRows = Array.from({ length: N }, (_, i) => i);
  const fpRows = Array.from({ length: F }, (_, i) => N + i);
  const properRows = fpRows.filter((_, i) => fps[i]!.assigned);
  const missRows = fpRows.filter((_, i) => !fps[i]!.assigned);

  const groupsTodo = pairs.flatMap((p) =>
    circuit.layers[p]!.neuronGroups.map((g) => ({ pairIndex: p, groupId: g.id })),
  );
  const sizesPerPair = pairs.map(
    (p) => new Set(circuit.layers[p]!.neuronGroups.map((g) => new Set(g.members.map((m) => m.neuron)).size)).size,
  );
  const total = groupsTodo.length + sizesPerPair.reduce((a, b) => a + b, 0) * draws + pairs.length + 1;
  let done = 0;
  const step = (message: string, n = 1) => options.onProgress?.({ done: (done += n), total, message });

  const results: Omit<GroupDependence, "rank">[] = [];
  let classAccuracy = 0;
  try {
    // metric M of every group on the class images and the false positives
    const mOf = await metricMOfGroups(circuit, model, all, pairs, batchSize);
    step("metric M");
    for (const p of pairs) {
      checkAbort(options.signal);
      const layer = circuit.layers[p]!;
      const slice = knockoutSlice(model, all, wholes, layer.upper, layer.upper, batchSize, {
        upperTensor: model.logitsTensor,
      });
      try {
        const width = slice.channels;
        const base = (await knockoutOutputs(slice, [])).values;
        if (p === pairs[0]) {
          let hits = 0;
          for (const r of classRows) if (argmaxRow(base, r, classes) === cls) hits++;
          classAccuracy = N ? hits / N : NaN;
        }
        step(`${layer.upper}: unmasked logits`);
        // random sets: one series per group size, shared by the layer's groups of that size
        const randomBySize = new Map<
          number,
          { cls: Measured[]; fp: Measured[]; miss: Measured[]; perImage: Float64Array[] }
        >();
        const randomOf = async (size: number) => {
          const hit = randomBySize.get(size);
          if (hit) return hit;
          const random = seededRandom((seed * 1000003 + p * 7919 + size * 104729) >>> 0);
          const r = {
            cls: [] as Measured[],
            fp: [] as Measured[],
            miss: [] as Measured[],
            perImage: [] as Float64Array[],
          };
          for (let d = 0; d < draws; d++) {
            if (d % 16 === 0) checkAbort(options.signal);
            const masked = (await knockoutOutputs(slice, sampleWithoutReplacement(width, size, random))).values;
            r.cls.push(measure(base, masked, classes, cls, classRows));
            r.fp.push(measure(base, masked, classes, cls, properRows));
            r.miss.push(measure(base, masked, classes, cls, missRows));
            r.perImage.push(measure(base, masked, classes, cls, fpRows).drops);
            step(`${layer.upper}: random sets of ${size} neurons ${d + 1}/${draws}`);
          }
          randomBySize.set(size, r);
          return r;
        };
        for (const g of layer.neuronGroups) {
          checkAbort(options.signal);
          const neurons = [...new Set(g.members.map((m) => m.neuron))].sort((a, b) => a - b);
          const random = await randomOf(neurons.length);
          const masked = (await knockoutOutputs(slice, neurons)).values;
          const onClass = effect(
            measure(base, masked, classes, cls, classRows),
            random.cls,
            base,
            classes,
            cls,
            classRows,
            level,
          );
          const fpMeasured = measure(base, masked, classes, cls, fpRows);
          const onFp = properRows.length
            ? effect(measure(base, masked, classes, cls, properRows), random.fp, base, classes, cls, properRows, level)
            : null;
          const onMiss = missRows.length
            ? effect(measure(base, masked, classes, cls, missRows), random.miss, base, classes, cls, missRows, level)
            : null;
          // a false positive is explained when the group lowers its class logit more than the random upper percentile there
          const explains: number[] = [];
          const flipsFalsePositives: number[] = [];
          for (let i = 0; i < F; i++) {
            const perDraw = Float64Array.from(random.perImage.map((x) => x[i]!)).sort();
            if (fpMeasured.drops[i]! > quantile(perDraw, 1 - (1 - level) / 2)) {
              explains.push(i);
              const r = N + i;
              if (argmaxRow(base, r, classes) === cls && argmaxRow(masked, r, classes) !== cls)
                flipsFalsePositives.push(i);
            }
          }
          const mAll = mOf.get(`${p}:${g.id}`)!;
          const mc = mAll.subarray(0, N);
          const mf = properRows.length ? Float64Array.from(properRows, (r) => mAll[r]!) : null;
          const mm = missRows.length ? Float64Array.from(missRows, (r) => mAll[r]!) : null;
          const mClassMean = meanOf(mc);
          const mFpMean = mf ? meanOf(mf) : null;
          const explainedProper = explains.filter((i) => fps[i]!.assigned).length;
          const flag = {
            classDependence: onClass.exceedsRandom,
            falsePositiveShare: (onFp?.exceedsRandom ?? false) && explainedProper >= properRows.length * minExplained,
            contextLike: mFpMean != null && mClassMean > 0 && mFpMean >= contextRatio * mClassMean,
          };
          results.push({
            pairIndex: p,
            layer: layer.upper,
            groupId: g.id,
            neurons,
            layerWidth: width,
            excessDrop: onClass.logitDrop - onClass.random.mean,
            classImages: onClass,
            falsePositives: onFp,
            nearMisses: onMiss,
            metricM: {
              classImages: mClassMean,
              classShows: shareAtLeast(mc, mThreshold),
              falsePositives: mFpMean,
              falsePositiveShows: mf ? shareAtLeast(mf, mThreshold) : null,
              nearMisses: mm ? meanOf(mm) : null,
            },
            explains,
            flipsFalsePositives,
            biasCandidate: flag.classDependence && flag.falsePositiveShare && flag.contextLike,
            flag,
            conceptPatches: conceptPatchesOf(circuit, p, g.id, options.conceptPatches ?? D.conceptPatches),
          });
          step(`${layer.upper}: group ${g.id}`);
        }
      } finally {
        disposeSlice(slice);
      }
    }
  } finally {
    all.dispose();
  }
  results.sort((a, b) => b.excessDrop - a.excessDrop || a.pairIndex - b.pairIndex || a.groupId - b.groupId);
  step("done", 0);
  return {
    kind: "classDependence",
    class: { index: cls, name: circuit.class.name },
    params: {
      draws,
      seed,
      level,
      falsePositiveLimit: fpLimit,
      contextRatio,
      minExplained,
      mThreshold,
      pairs,
      classImages: N,
      otherImages: M,
    },
    unmasked: { classAccuracy, otherAssigned: M ? otherAssigned / M : 0 },
    falsePositives: fps,
    groups: results.map((r, i) => ({ rank: i + 1, ...r })),
    seconds: (performance.now() - started) / 1000,
  };
}
