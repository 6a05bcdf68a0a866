/**
 * Strided access with gradients everywhere (tfjs's stridedSlice has none): keeping every s-th
 * row/column, and its transpose, inserting s−1 zeros between rows/columns. Both are reshapes,
 * pads and slices.
 */
import { tf } from "../../tf";

/** Keeps every s-th row/column starting at 0 (a strided subsample with a gradient). Rank ≤ 4 throughout (WebGPU's shaders stop at rank 4). */
export function subsample(y: tf.Tensor4D, s: readonly [number, number], outH: number, outW: number): tf.Tensor4D {
  if (s[0] === 1 && s[1] === 1) return tf.slice(y, [0, 0, 0, 0], [-1, outH, outW, -1]);
  const [n, h, w, c] = y.shape;
  const H = outH * s[0];
  const W = outW * s[1];
  let t: tf.Tensor4D = y;
  if (H > h || W > w)
    t = tf.pad(t, [
      [0, 0],
      [0, Math.max(0, H - h)],
      [0, Math.max(0, W - w)],
      [0, 0],
    ]);
  if (H < t.shape[1] || W < t.shape[2]) t = tf.slice(t, [0, 0, 0, 0], [-1, H, W, -1]);
  // rows: [n, outH, s0, W·c] → keep index 0 of axis 2
  const rows = tf.slice(tf.reshape(t, [n, outH, s[0], W * c]), [0, 0, 0, 0], [-1, -1, 1, -1]);
  // columns: [n·outH, outW, s1, c] → keep index 0 of axis 2
  const cols = tf.slice(tf.reshape(rows, [n * outH, outW, s[1], c]), [0, 0, 0, 0], [-1, -1, 1, -1]);
  return tf.reshape(cols, [n, outH, outW, c]);
}

/** Inserts s−1 zeros after every row/column: [N,H,W,C] → [N,H·sh,W·sw,C]. Rank ≤ 4 throughout. */
export function dilate(dy: tf.Tensor4D, s: readonly [number, number]): tf.Tensor4D {
  if (s[0] === 1 && s[1] === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const H = h * s[0];
  const rows = tf.pad(tf.reshape(dy, [n, h, 1, w * c]), [
    [0, 0],
    [0, 0],
    [0, s[0] - 1],
    [0, 0],
  ]);
  const cols = tf.pad(tf.reshape(rows, [n * H, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, s[1] - 1],
    [0, 0],
  ]);
  return tf.reshape(cols, [n, H, w * s[1], c]);
}
