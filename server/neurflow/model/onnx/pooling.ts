/**
 * ONNX MaxPool / AveragePool in NHWC: explicit (possibly asymmetric) pads, strides, ceil_mode
 * (the last window must start inside the input or its begin pad, as in PyTorch and onnxruntime)
 * and AveragePool's count_include_pad.
 */
import { tf } from "../../tf";
import { resolvePads, type ConvGeometry, type Pads4 } from "./convolution";
import { dilate, subsample } from "./strided";

export interface PoolSpec extends ConvGeometry {
  ceilMode: boolean;
  countIncludePad: boolean;
}

function outLen(size: number, k: number, s: number, p0: number, p1: number, ceil: boolean): number {
  const span = size + p0 + p1 - k;
  if (!ceil) return Math.floor(span / s) + 1;
  let out = Math.ceil(span / s) + 1;
  if ((out - 1) * s >= size + p0) out -= 1;
  return out;
}

/** Pads plus the extra end padding ceil_mode needs: [top, left, bottom, right, extraH, extraW]. */
function geometry(
  spec: PoolSpec,
  h: number,
  w: number,
): { pads: Pads4; extraH: number; extraW: number; outH: number; outW: number } {
  const pads = resolvePads(spec, h, w);
  const [kh, kw] = spec.kernel;
  const [sh, sw] = spec.strides;
  const outH = outLen(h, kh, sh, pads[0], pads[2], spec.ceilMode);
  const outW = outLen(w, kw, sw, pads[1], pads[3], spec.ceilMode);
  const extraH = Math.max(0, (outH - 1) * sh + kh - (h + pads[0] + pads[2]));
  const extraW = Math.max(0, (outW - 1) * sw + kw - (w + pads[1] + pads[3]));
  return { pads, extraH, extraW, outH, outW };
}

/**
 * tfjs's pooling gradients are wrong with explicit padding (checked on cpu and wasm), so padding is
 * done with tf.pad (whose gradient is a slice) and the pooling itself is always "valid".
 */
function padded(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number, value: number): tf.Tensor4D {
  if (top + bottom + left + right === 0) return x;
  return tf.pad(
    x,
    [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
    value,
  );
}

const LOWEST = -3.4028234663852886e38;

/**
 * Valid max pooling whose input gradient is built from forward ops: tfjs's MaxPoolGrad on wasm
 * gives wrong results for some shapes (e.g. 10×10, kernel 2, stride 2). Each output's gradient
 * goes to the first maximal cell of its window, as in tfjs's other backends and TensorFlow.
 */
function makeMaxPoolValid(kernel: readonly [number, number], strides: readonly [number, number]) {
  const [kh, kw] = kernel;
  const [sh, sw] = strides;
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    const y = tf.maxPool(x, [kh, kw], [sh, sw], "valid");
    save([x, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [p, out] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [, hp, wp] = p.shape;
        const [, ho, wo] = out.shape;
        let taken: tf.Tensor = tf.zerosLike(out);
        const parts: tf.Tensor4D[] = [];
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const win = tf.slice(p, [0, i, j, 0], [-1, (ho - 1) * sh + 1, (wo - 1) * sw + 1, -1]);
            const cells = subsample(win, [sh, sw], ho, wo);
            const hit = tf.mul(tf.cast(tf.equal(cells, out), "float32"), tf.sub(1, taken));
            taken = tf.add(taken, hit);
            const g = dilate(tf.mul(dy, hit) as tf.Tensor4D, [sh, sw]);
            const rows = Math.min(g.shape[1], hp - i);
            const cols = Math.min(g.shape[2], wp - j);
            const cut = tf.slice(g, [0, 0, 0, 0], [-1, rows, cols, -1]);
            parts.push(
              tf.pad(cut, [
                [0, 0],
                [i, hp - i - rows],
                [j, wp - j - cols],
                [0, 0],
              ]),
            );
          }
        }
        return parts.length === 1 ? parts[0]! : tf.addN(parts);
      },
    };
  });
}

export function makeMaxPool(spec: PoolSpec): (x: tf.Tensor4D) => tf.Tensor4D {
  const pool = makeMaxPoolValid(spec.kernel, spec.strides);
  return (x) => {
    const [, h, w] = x.shape;
    const { pads, extraH, extraW } = geometry(spec, h, w);
    // ONNX pads max pooling with -inf: a window never sees only padding (ceil_mode rule above)
    const p = padded(x, pads[0], pads[2] + extraH, pads[1], pads[3] + extraW, LOWEST);
    return pool(p) as tf.Tensor4D;
  };
}

/** Cells of each window inside [lo, hi) along one axis. */
function counts(out: number, k: number, s: number, pBegin: number, lo: number, hi: number): number[] {
  return Array.from({ length: out }, (_, i) => {
    const start = i * s - pBegin;
    return Math.max(0, Math.min(start + k, hi) - Math.max(start, lo));
  });
}

export function averagePool(x: tf.Tensor4D, spec: PoolSpec): tf.Tensor4D {
  const [, h, w] = x.shape;
  const { pads, extraH, extraW, outH, outW } = geometry(spec, h, w);
  const [kh, kw] = spec.kernel;
  const [sh, sw] = spec.strides;
  if (pads[0] + pads[1] + pads[2] + pads[3] + extraH + extraW === 0)
    return tf.avgPool(x, spec.kernel, spec.strides, "valid");
  const y = tf.avgPool(
    padded(x, pads[0], pads[2] + extraH, pads[1], pads[3] + extraW, 0),
    spec.kernel,
    spec.strides,
    "valid",
  );
  // divisor: cells inside the input (count_include_pad = 0), or inside input + declared pads
  // (count_include_pad = 1; the ceil_mode overhang never counts)
  const inc = spec.countIncludePad;
  const ch = counts(outH, kh, sh, pads[0], inc ? -pads[0] : 0, inc ? h + pads[2] : h);
  const cw = counts(outW, kw, sw, pads[1], inc ? -pads[1] : 0, inc ? w + pads[3] : w);
  const scale = new Float32Array(outH * outW);
  for (let i = 0; i < outH; i++)
    for (let j = 0; j < outW; j++) scale[i * outW + j] = (kh * kw) / Math.max(1, ch[i]! * cw[j]!);
  return tf.mul(y, tf.tensor4d(scale, [1, outH, outW, 1]));
}
