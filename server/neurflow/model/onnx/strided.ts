/**
 * Strided access with gradients everywhere (tfjs's stridedSlice has none): keeping every s-th
 * row/column, and its transpose, inserting s−1 zeros between rows/columns. Both are reshapes,
 * pads and slices.
 */
import { tf } from "../../tf";

/** Keeps every s-th row/column starting at 0 (a strided subsample with a gradient). */
export function subsample(y: tf.Tensor4D, s: readonly [number, number], outH: number, outW: number): tf.Tensor4D {
  if (s[0] === 1 && s[1] === 1) return tf.slice(y, [0, 0, 0, 0], [-1, outH, outW, -1]);
  const [n, h, w, c] = y.shape;
  const H = outH * s[0];
  const W = outW * s[1];
  let t: tf.Tensor4D = y;
  if (H > h || W > w) t = tf.pad(t, [[0, 0], [0, Math.max(0, H - h)], [0, Math.max(0, W - w)], [0, 0]]);
  if (H < t.shape[1] || W < t.shape[2]) t = tf.slice(t, [0, 0, 0, 0], [-1, H, W, -1]);
  const r = tf.reshape(t, [n, outH, s[0], outW, s[1], c]);
  return tf.reshape(tf.slice(r, [0, 0, 0, 0, 0, 0], [-1, -1, 1, -1, 1, -1]), [n, outH, outW, c]);
}

/** Inserts s−1 zeros after every row/column: [N,H,W,C] → [N,H·sh,W·sw,C]. */
export function dilate(dy: tf.Tensor4D, s: readonly [number, number]): tf.Tensor4D {
  if (s[0] === 1 && s[1] === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const r = tf.reshape(dy, [n, h, 1, w, 1, c]);
  const p = tf.pad(r, [
    [0, 0],
    [0, 0],
    [0, s[0] - 1],
    [0, 0],
    [0, s[1] - 1],
    [0, 0],
  ]);
  return tf.reshape(p, [n, h * s[0], w * s[1], c]);
}

