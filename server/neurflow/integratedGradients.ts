/**
 * Integrated gradients of one target neuron of an upper layer with respect to a lower layer's
 * feature maps, baseline 0: attribution = x · Σᵢ wᵢ ∇f(αᵢ x), f = spatial mean of the target channel
 * (or the unit of a dense layer). Each lower channel's attribution is averaged over its spatial
 * positions, giving one score per (patch, lower channel).
 *
 * Rows (patch × step) are batched up to `maxRowsElements` input elements per pass; the quadrature
 * weights are applied on the backend, so only [patches, channels] comes back.
 */
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
  // only the target channel of the upper layer is computed (and what it needs)
  const f = (inp: tf.Tensor): tf.Scalar => {
    const out = slice.graph.runChannel({ [slice.lowerTensor]: inp }, slice.upperTensor, target);
    return targetActivation(out, 0).sum();
  };
  const grad = tf.grad(f);
  const perPatch = new Float32Array(P * channels);
  const totals = new Float64Array(P);
  const rowsPerPass = Math.max(1, Math.floor(maxRowElements / rowSize));
  // steps per pass and patches per pass: keep all steps of a patch together when they fit
  const stepsPerPass = Math.min(N, rowsPerPass);
  const patchesPerPass = Math.max(1, Math.floor(rowsPerPass / stepsPerPass));
  for (let p0 = 0; p0 < P; p0 += patchesPerPass) {
    const pc = Math.min(patchesPerPass, P - p0);
    const result = tf.tidy(() => {
      const xs = tf.slice(x, p0, pc);
      let acc: tf.Tensor | null = null;
      for (let s0 = 0; s0 < N; s0 += stepsPerPass) {
        const sc = Math.min(stepsPerPass, N - s0);
        const alphas = tf.tensor1d(Array.from(rule.alphas.subarray(s0, s0 + sc)), "float32");
        const weights = tf.tensor2d(Array.from(rule.weights.subarray(s0, s0 + sc)), [sc, 1], "float32");
        // rows ordered step-major: row = s * pc + p
        const scaled = tf.mul(alphas.reshape([sc, 1]), xs.reshape([1, pc * rowSize])).reshape([sc * pc, ...rowShape]);
        const g = grad(scaled);
        // Σ_s w_s·g_s as an elementwise product and a sum (a [1, sc]×[sc, M] matMul exceeds WebGPU's dispatch limits for large M)
        const weighted = tf.sum(tf.mul(g.reshape([sc, pc * rowSize]), weights), 0).reshape([pc, ...rowShape]);
        acc = acc ? tf.add(acc, weighted) : weighted;
      }
      const attribution = tf.mul(acc!, xs);
      const flat = attribution.reshape([pc, positions, channels]);
      return { mean: flat.mean(1), total: flat.sum([1, 2]) };
    });
    // asynchronous reads: WebGPU in Node has no synchronous readback
    const [mean, t] = await Promise.all([result.mean.data(), result.total.data()]);
    perPatch.set(mean as Float32Array, p0 * channels);
    for (let i = 0; i < pc; i++) totals[p0 + i] = t[i]!;
    result.mean.dispose();
    result.total.dispose();
  }
  return { perPatch, channels, totals };
}
