/**
 * Integrated gradients of one target neuron of an upper layer with respect to a lower layer's
 * feature maps, baseline 0: attribution = x · Σᵢ wᵢ ∇f(αᵢ x), f = spatial mean of the target channel
 * (or the unit of a dense layer). Each lower channel's attribution is averaged over its spatial
 * positions, giving one score per (patch, lower channel).
 *
 * Rows (patch × step) are batched up to `maxRowsElements` input elements per pass; the quadrature
 * weights are applied on the backend, so only [patches, channels] comes back.
 */
import { channelOf } from "./model/channelSlice";
import type { TensorGraph } from "./model/graph";
import type { QuadratureRule } from "./quadrature";
import { tf } from "./tf";

export interface IgSlice {
  graph: TensorGraph;
  lowerTensor: string;
  upperTensor: string;
}

export interface IgResult {
  /** [patches × lowerChannels], row-major: mean over positions of the attribution. */
  perPatch: Float32Array;
  channels: number;
  /** Σ of all attributions per patch (for completeness: should equal f(x) − f(0)). */
  totals: Float64Array;
  /** As `perPatch`, under the rule's embedded weights (where the rule has them). */
  embedded?: Float32Array;
}

/** Target activation: spatial mean of channel `target` per batch row (dense: the unit itself). */
export function targetActivation(out: tf.Tensor, target: number): tf.Tensor1D {
  if (out.rank === 4) {
    const [n, h, w] = out.shape as [number, number, number, number];
    return tf.slice(out, [0, 0, 0, target], [n, h, w, 1]).mean([1, 2, 3]) as tf.Tensor1D;
  }
  if (out.rank === 2) return tf.slice(out, [0, target], [out.shape[0], 1]).reshape([out.shape[0]]) as tf.Tensor1D;
  throw new Error(`a layer output of rank ${out.rank} cannot be a circuit layer (need [N,H,W,C] or [N,units])`);
}

/**
 * IG for `target` over the lower-layer maps `x` ([P, H, W, C] or [P, C]). Does not dispose `x`.
 * Where the slice begins with an affine part (see model/affinePrefix.ts), that part runs once per
 * patch: the steps start from its frontier, z(αx) = z(0) + α(z(x) − z(0)), and the weighted sum of
 * the frontier gradients goes back through it once. Equal to running the whole slice at every step.
 */
export async function integratedGradients(
  slice: IgSlice,
  target: number,
  x: tf.Tensor,
  rule: QuadratureRule,
  maxRowElements = 1 << 24,
): Promise<IgResult> {
  const P = x.shape[0]!;
  const rowShape = x.shape.slice(1);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const channels = rowShape[rowShape.length - 1]!;
  const positions = rowSize / channels;
  const N = rule.alphas.length;
  const { graph, lowerTensor, upperTensor } = slice;
  const frontier = graph.affineFrontier?.(lowerTensor, upperTensor) ?? null;
  const starts = frontier ?? [lowerTensor];
  // the frontier at the zero baseline: z(0), one row each; where the rest of the slice reads only
  // the target channel of a frontier tensor (a residual input), only that channel goes on
  let z0: tf.Tensor[] | null = null;
  let narrow: boolean[] = [];
  if (frontier) {
    const full = tf.tidy(() => graph.run({ [lowerTensor]: tf.zeros([1, ...rowShape]) }, frontier));
    const one = new Set(
      graph.oneChannelFeeds?.(Object.fromEntries(frontier.map((n, i) => [n, full[i]!])), upperTensor) ?? [],
    );
    narrow = frontier.map((n) => one.has(n));
    z0 = full.map((z, i) => (narrow[i] ? channelOf(z, target) : z));
    full.forEach((z, i) => narrow[i] && z.dispose());
  }
  /** The frontier tensors as the steps start from them (narrowed to the target channel where read so). */
  const startsOf = (zs: tf.Tensor[]) => zs.map((z, i) => (narrow[i] ? channelOf(z, target) : z));
  const startShapes = z0 ? z0.map((t) => t.shape.slice(1)) : [rowShape];
  const startSizes = startShapes.map((sh) => sh.reduce((a, b) => a * b, 1));
  // only the target channel of the upper layer is computed (and what it needs)
  const f = (...zs: tf.Tensor[]): tf.Scalar => {
    const feeds = Object.fromEntries(starts.map((n, i) => [n, zs[i]!]));
    const out = graph.runChannel(feeds, upperTensor, target);
    return targetActivation(out, 0).sum();
  };
  const grads = tf.grads(f);
  const perPatch = new Float32Array(P * channels);
  const embedded = rule.embedded ? new Float32Array(P * channels) : undefined;
  const totals = new Float64Array(P);
  // a pass holds, per row, the start tensors and the slice's tensors from there on (of their size)
  const elementsPerRow = Math.max(
    1,
    startSizes.reduce((a, b) => a + b, 0),
  );
  const rowsPerPass = Math.max(1, Math.floor(maxRowElements / elementsPerRow));
  // steps per pass and patches per pass: keep all steps of a patch together when they fit
  const stepsPerPass = Math.min(N, rowsPerPass);
  const patchesPerPass = Math.max(1, Math.floor(rowsPerPass / stepsPerPass));
  try {
    for (let p0 = 0; p0 < P; p0 += patchesPerPass) {
      const pc = Math.min(patchesPerPass, P - p0);
      const result = tf.tidy(() => {
        const xs = tf.slice(x, p0, pc);
        // z(x) − z(0) per start tensor (x itself when the slice has no affine prefix)
        const deltas = z0
          ? startsOf(graph.run({ [lowerTensor]: xs }, frontier!)).map((z, i) => tf.sub(z, z0![i]!))
          : [xs];
        // per weighting (the rule's, then its embedded rule's): Σ_s w_s·g_s per start tensor
        const weightings = rule.embedded ? [rule.weights, rule.embedded] : [rule.weights];
        const acc: (tf.Tensor | null)[][] = weightings.map(() => starts.map(() => null));
        for (let s0 = 0; s0 < N; s0 += stepsPerPass) {
          const sc = Math.min(stepsPerPass, N - s0);
          const alphas = tf.tensor3d(Array.from(rule.alphas.subarray(s0, s0 + sc)), [sc, 1, 1], "float32");
          // rows ordered step-major: row = s * pc + p
          const feeds = deltas.map((d, i) => {
            const scaled = tf.mul(alphas, d.reshape([1, pc, startSizes[i]!]));
            const shifted = z0 ? tf.add(scaled, z0[i]!.reshape([1, 1, startSizes[i]!])) : scaled;
            return shifted.reshape([sc * pc, ...startShapes[i]!]);
          });
          const g = grads(feeds);
          weightings.forEach((all, m) => {
            const weights = tf.tensor2d(Array.from(all.subarray(s0, s0 + sc)), [sc, 1], "float32");
            g.forEach((gi, i) => {
              // Σ_s w_s·g_s as an elementwise product and a sum (a [1, sc]×[sc, M] matMul exceeds WebGPU's dispatch limits for large M)
              const weighted = tf
                .sum(tf.mul(gi.reshape([sc, pc * startSizes[i]!]), weights), 0)
                .reshape([pc, ...startShapes[i]!]);
              acc[m]![i] = acc[m]![i] ? tf.add(acc[m]![i]!, weighted) : weighted;
            });
          });
        }
        // back through the affine prefix, once per weighting: its backward is the same linear map at every α
        const [main, second] = acc.map((a) => {
          const gradient = z0
            ? tf.grad((xx: tf.Tensor) =>
                tf.addN(startsOf(graph.run({ [lowerTensor]: xx }, frontier!)).map((z, i) => tf.sum(tf.mul(z, a[i]!)))),
              )(xs)
            : a[0]!;
          return tf.mul(gradient, xs).reshape([pc, positions, channels]);
        });
        return { mean: main!.mean(1), total: main!.sum([1, 2]), embedded: second?.mean(1) };
      });
      // asynchronous reads: WebGPU in Node has no synchronous readback
      const [mean, t, e] = await Promise.all([result.mean.data(), result.total.data(), result.embedded?.data()]);
      perPatch.set(mean as Float32Array, p0 * channels);
      if (e) embedded?.set(e as Float32Array, p0 * channels);
      for (let i = 0; i < pc; i++) totals[p0 + i] = t[i]!;
      result.mean.dispose();
      result.total.dispose();
      result.embedded?.dispose();
    }
  } finally {
    z0?.forEach((t) => t.dispose());
  }
  return { perPatch, channels, totals, ...(embedded ? { embedded } : {}) };
}
