/**
 * The integrated-gradients work for one target neuron: IG over its top patches w.r.t. the lower
 * layer's maps, its completeness per patch, and — for the patches whose completeness misses the
 * tolerance — the same again with the next, finer quadrature rule. The same function runs in-process and in worker threads,
 * so results do not depend on where.
 */
import { computeLayerMaps } from "./activations";
import { channelImportance, selectCoreNeurons, topIndices, type ImportanceMode } from "./coreNeurons";
import { edgeWeights, type EdgeNormalization } from "./edgeWeights";
import { integratedGradients, type IgResult } from "./integratedGradients";
import type { TensorGraph } from "./model/graph";
import type { Patch } from "./patches";
import type { QuadratureRule } from "./quadrature";
import { tf } from "./tf";

export interface AttributionTask {
  lowerTensor: string;
  upperTensor: string;
  target: number;
  topPatches: number[];
  /** The target's activation on each top patch (for completeness). */
  topActivations: number[];
  /** The top patches' semantic groups (for the decision rule's edge-weight check), if known. */
  semanticGroups?: number[];
}

export interface AttributionResult {
  /** [topPatches × lowerChannels]: IG averaged over positions. */
  perPatch: Float32Array;
  channels: number;
  /** Σ of all attributions per top patch. */
  totals: Float64Array;
  /** The target's activation at the zero baseline. */
  f0: number;
  /** Worst relative completeness error over the top patches. */
  completeness: number;
  /** Quadrature nodes of the finest rule used (for the patches that needed it). */
  nodes: number;
}

export interface AttributionSettings {
  /** Quadrature rules to try in order; the next is used while completeness exceeds the tolerance. */
  rules: QuadratureRule[];
  /** Relative completeness tolerance (e.g. 0.01). */
  tolerance: number;
  /**
   * Refine by the decision instead of by completeness (igRefine "coreSet"): the next rule is used,
   * for all top patches, only where the estimated quadrature error could change the core set.
   */
  decision?: {
    tau: number;
    importance: ImportanceMode;
    edgeNormalization: EdgeNormalization;
    /**
     * A coarser rule on other nodes (half as many): |first − estimate| estimates the first rule's
     * error. Used where the first rule has no embedded rule (Gauss–Kronrod's gives it for free).
     */
    estimate: QuadratureRule;
  };
  /** Input elements per IG pass. */
  igRowElements?: number;
}

/** Lower-layer maps of many patches, computed once per layer pair and shared by its targets. */
export interface LayerMaps {
  lowerTensor: string;
  /** Shape of one row (one patch's map), e.g. [H, W, C]. */
  rowShape: number[];
  /** Row of each patch index, -1 where absent. */
  rowOf: Int32Array;
  /** Rows back to back (may live in a SharedArrayBuffer). */
  data: Float32Array;
}

/** |Σ attributions − (f(x) − f(0))| / max(|f(x) − f(0)|, 0.05·|f(x)|), worst over the patches. */
export function completenessError(totals: ArrayLike<number>, fx: ArrayLike<number>, f0: number): number {
  let worst = 0;
  for (let i = 0; i < fx.length; i++) {
    const delta = fx[i]! - f0;
    const err = Math.abs(totals[i]! - delta) / Math.max(Math.abs(delta), 0.05 * Math.abs(fx[i]!), 1e-12);
    worst = Math.max(worst, err);
  }
  return worst;
}

async function mapsOf(
  graph: TensorGraph,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  task: AttributionTask,
  shared: LayerMaps | null,
  kernels: AttributionKernels | null,
): Promise<tf.Tensor> {
  if (!shared || shared.lowerTensor !== task.lowerTensor) {
    if (kernels?.layerMaps) return kernels.layerMaps(task.topPatches, task.lowerTensor);
    return computeLayerMaps(graph, images, patches, task.topPatches, task.lowerTensor, task.topPatches.length);
  }
  const rowSize = shared.rowShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(task.topPatches.length * rowSize);
  task.topPatches.forEach((p, i) => {
    const r = shared.rowOf[p] ?? -1;
    if (r < 0) throw new Error(`patch ${p} is missing from the shared maps of ${task.lowerTensor}`);
    out.set(shared.data.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize);
  });
  return tf.tensor(out, [task.topPatches.length, ...shared.rowShape]);
}

/**
 * Integrated gradients of the task's target over the lower maps `x` with one rule, computed by
 * another kernel library (onnxruntime); null where it cannot, and TensorFlow.js does it.
 */
export type IgKernel = (
  task: AttributionTask,
  x: tf.Tensor,
  rule: QuadratureRule,
  rowElements?: number,
) => Promise<IgResult | null>;

/** Work another kernel library does in place of TensorFlow.js (see onnxruntime/). */
export interface AttributionKernels {
  ig?: IgKernel;
  /** Full maps of one layer for the given patches, [n, ...row] (as computeLayerMaps). */
  layerMaps?: (indices: readonly number[], layerTensor: string) => Promise<tf.Tensor>;
}

/**
 * Factor on the error estimate (the difference from the coarser rule, which errs more than the
 * first one: conservative), and an error floor relative to the largest importance (float rounding:
 * an exact tie at the boundary is never certain). Measurements in docs/engine.md.
 */
export const CORE_SET_ERROR_FACTOR = 1;
export const CORE_SET_ERROR_FLOOR = 1e-6;

/**
 * Whether the τ core neurons by `perPatch`'s importance stay the core neurons under its estimated
 * error: per channel E = max(|I − I_estimate|, 10⁻⁶·max I); certain when every core channel's
 * I − E exceeds every other channel's I + E.
 */
export function coreSetCertain(
  perPatch: Float32Array,
  estimate: Float32Array,
  patches: number,
  channels: number,
  tau: number,
  mode: ImportanceMode,
): boolean {
  const I = channelImportance(perPatch, patches, channels, mode);
  const Ic = channelImportance(estimate, patches, channels, mode);
  let top = 0;
  for (const v of I) top = Math.max(top, v);
  const floor = CORE_SET_ERROR_FLOOR * top;
  const err = (c: number) => Math.max(CORE_SET_ERROR_FACTOR * Math.abs(I[c]! - Ic[c]!), floor);
  const core = new Set(topIndices(I, tau));
  let coreLow = Infinity;
  let restHigh = -Infinity;
  for (let c = 0; c < channels; c++) {
    if (core.has(c)) coreLow = Math.min(coreLow, I[c]! - err(c));
    else restHigh = Math.max(restHigh, I[c]! + err(c));
  }
  return coreLow > restHigh;
}

/**
 * The largest estimated error of an edge weight (normalised, as the circuit stores it) that the
 * decision rule leaves to the first rule: half of what parity with the reference allows
 * (PARITY_THRESHOLDS), the estimate being that of the coarser rule.
 */
export const EDGE_WEIGHT_ERROR_TOLERANCE = 5e-3;

/** Whether the target's edge weights by `perPatch` and by the estimate differ by at most the tolerance. */
export function edgeWeightsSettled(
  perPatch: Float32Array,
  estimate: Float32Array,
  patches: number,
  channels: number,
  groups: readonly number[],
  d: { tau: number; importance: ImportanceMode; edgeNormalization: EdgeNormalization },
): boolean {
  const core = selectCoreNeurons(channelImportance(perPatch, patches, channels, d.importance), d.tau);
  const a = edgeWeights(perPatch, channels, groups, core, d.edgeNormalization);
  const b = edgeWeights(estimate, channels, groups, core, d.edgeNormalization);
  return a.every((e, i) => Math.abs(e.weight - b[i]!.weight) <= EDGE_WEIGHT_ERROR_TOLERANCE);
}

/** Per graph and layer pair: every upper channel's activation at the zero baseline. */
const zeroBaselines = new WeakMap<TensorGraph, Map<string, Promise<Float32Array>>>();

/**
 * The upper layer's activations (spatial mean per channel) with the lower layer's maps at zero: one
 * forward pass per layer pair, shared by its targets (for completeness, f(x) − f(0)).
 */
function zeroBaselineActivations(
  graph: TensorGraph,
  lower: string,
  upper: string,
  rowShape: readonly number[],
): Promise<Float32Array> {
  let byPair = zeroBaselines.get(graph);
  if (!byPair) zeroBaselines.set(graph, (byPair = new Map()));
  const key = `${lower}\u0000${upper}\u0000${rowShape.join(",")}`;
  let f0 = byPair.get(key);
  if (!f0) {
    const out = tf.tidy(() => {
      const [z] = graph.run({ [lower]: tf.zeros([1, ...rowShape]) }, [upper]);
      if (z!.rank === 4) return z!.mean([1, 2]);
      if (z!.rank === 2) return z!;
      throw new Error(`a layer output of rank ${z!.rank} cannot be a circuit layer (need [N,H,W,C] or [N,units])`);
    });
    f0 = out.data().then((d) => {
      out.dispose();
      return d as Float32Array;
    });
    f0.catch(() => byPair.delete(key));
    byPair.set(key, f0);
  }
  return f0;
}

export async function attributeTarget(
  graph: TensorGraph,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  task: AttributionTask,
  settings: AttributionSettings,
  shared: LayerMaps | null = null,
  kernels: AttributionKernels | null = null,
): Promise<AttributionResult> {
  const kernel = kernels?.ig;
  const x = await mapsOf(graph, images, patches, task, shared, kernels);
  try {
    const f0 = (await zeroBaselineActivations(graph, task.lowerTensor, task.upperTensor, x.shape.slice(1)))[
      task.target
    ]!;
    const slice = { graph, lowerTensor: task.lowerTensor, upperTensor: task.upperTensor };
    const [first, ...finer] = settings.rules;
    if (!first) throw new Error("no quadrature rule given");
    const igOf = async (xs: tf.Tensor, rule: QuadratureRule) =>
      (kernel && (await kernel(task, xs, rule, settings.igRowElements))) ??
      integratedGradients(slice, task.target, xs, rule, settings.igRowElements);
    if (settings.decision && finer.length) {
      // the first rule. Its error estimate: the embedded rule's result from the same evaluations
      // (Gauss–Kronrod), checked for every target; else, only where a patch misses the completeness
      // tolerance, a coarser rule on other nodes. The finest rule runs where that estimate could
      // change the core set or move an edge weight.
      const d = settings.decision;
      const ig = await igOf(x, first);
      const P = task.topPatches.length;
      const complete = task.topActivations.every(
        (fx, i) => completenessError([ig.totals[i]!], [fx], f0) <= settings.tolerance,
      );
      const estimate = ig.embedded ?? (complete ? null : (await igOf(x, d.estimate)).perPatch);
      const certain = estimate
        ? coreSetCertain(ig.perPatch, estimate, P, ig.channels, d.tau, d.importance) &&
          (!task.semanticGroups || edgeWeightsSettled(ig.perPatch, estimate, P, ig.channels, task.semanticGroups, d))
        : complete;
      const final = certain ? ig : await igOf(x, finer[finer.length - 1]!);
      const errors = task.topActivations.map((fx, i) => completenessError([final.totals[i]!], [fx], f0));
      const nodes = certain ? first.alphas.length : finer[finer.length - 1]!.alphas.length;
      return {
        perPatch: final.perPatch,
        channels: final.channels,
        totals: final.totals,
        f0,
        completeness: Math.max(0, ...errors),
        nodes,
      };
    }
    const ig = await igOf(x, first);
    const errors = task.topActivations.map((fx, i) => completenessError([ig.totals[i]!], [fx], f0));
    let nodes = first.alphas.length;
    // each patch's IG is its own integral: only the patches that miss the tolerance are redone
    for (const rule of finer) {
      const redo = errors.flatMap((e, i) => (e > settings.tolerance ? [i] : []));
      if (redo.length === 0) break;
      const xs = tf.gather(x, redo);
      const again = await igOf(xs, rule);
      xs.dispose();
      redo.forEach((p, j) => {
        ig.perPatch.set(again.perPatch.subarray(j * ig.channels, (j + 1) * ig.channels), p * ig.channels);
        ig.totals[p] = again.totals[j]!;
        errors[p] = completenessError([again.totals[j]!], [task.topActivations[p]!], f0);
      });
      nodes = rule.alphas.length;
    }
    return { ...ig, f0, completeness: Math.max(0, ...errors), nodes };
  } finally {
    x.dispose();
  }
}
