/**
 * Values flowing through an imported ONNX graph, and the layout rule that connects ONNX's NCHW
 * semantics to the engine's internal layout: a 4-D ONNX tensor of shape [N, C, H, W] is held as a
 * tf.Tensor of shape [N, H, W, C]; tensors of any other rank keep ONNX's order. Host tensors
 * (constants, shape arithmetic) are always in ONNX's order.
 */
import { tf } from "../../tf";
import { isHost, type HostTensor } from "./hostTensor";

export type Value = tf.Tensor | HostTensor;

/** ONNX → internal permutation of a 4-D tensor, and back. */
export const NCHW_TO_NHWC = [0, 2, 3, 1];
export const NHWC_TO_NCHW = [0, 3, 1, 2];

/** Internal axis of ONNX axis `a` (already normalised to >= 0) of a tensor of rank `rank`. */
export function internalAxis(a: number, rank: number): number {
  return rank === 4 ? NHWC_TO_NCHW[a]! : a;
}

export function normAxis(a: number, rank: number, what: string): number {
  const r = a < 0 ? a + rank : a;
  if (!Number.isInteger(r) || r < 0 || r >= Math.max(rank, 1))
    throw new Error(`${what}: axis ${a} is out of range for rank ${rank}`);
  return r;
}

/** ONNX's shape of a value (for 4-D internal tensors, NCHW). */
export function onnxShape(v: Value): number[] {
  if (isHost(v)) return [...v.dims];
  const s = v.shape;
  return s.length === 4 ? [s[0]!, s[3]!, s[1]!, s[2]!] : [...s];
}

export function rankOf(v: Value): number {
  return isHost(v) ? v.dims.length : v.rank;
}

/** A host tensor as a tf.Tensor in ONNX order (no layout change). */
export function hostToTf(h: HostTensor): tf.Tensor {
  const shape = [...h.dims];
  if (h.dtype === "float32") return tf.tensor(h.data as Float32Array, shape, "float32");
  if (h.dtype === "bool") return tf.tensor(h.data as Uint8Array, shape, "bool");
  return tf.tensor(Int32Array.from(h.data), shape, "int32");
}

/** An internal tf.Tensor in ONNX's order (4-D: NHWC → NCHW). */
export function toOnnxOrder(t: tf.Tensor): tf.Tensor {
  return t.rank === 4 ? tf.transpose(t, NHWC_TO_NCHW) : t;
}

/** A tf.Tensor in ONNX's order as an internal tensor (4-D: NCHW → NHWC). */
export function fromOnnxOrder(t: tf.Tensor): tf.Tensor {
  return t.rank === 4 ? tf.transpose(t, NCHW_TO_NHWC) : t;
}

/** Any value as an internal tf.Tensor. */
export function asTensor(v: Value): tf.Tensor {
  return isHost(v) ? fromOnnxOrder(hostToTf(v)) : v;
}

/** Any value as a tf.Tensor in ONNX's order. */
export function asOnnxTensor(v: Value): tf.Tensor {
  return isHost(v) ? hostToTf(v) : toOnnxOrder(v);
}

/**
 * A value as an internal 4-D tensor for broadcasting against a 4-D map: a lower-rank operand is
 * right-aligned to rank 4 in ONNX's order (a [C,1,1] constant becomes [1,C,1,1]) and then laid out
 * NHWC ([1,1,1,C]).
 */
export function alignTo4(v: Value): tf.Tensor {
  if (rankOf(v) === 4) return asTensor(v);
  const shape = onnxShape(v);
  if (shape.length > 4) throw new Error(`cannot broadcast a rank-${shape.length} tensor against a 4-D one`);
  while (shape.length < 4) shape.unshift(1);
  const t = isHost(v) ? hostToTf(v) : v;
  return tf.transpose(tf.reshape(t, shape), NCHW_TO_NHWC);
}

/** Brings the operands of a broadcasting elementwise op to a common internal layout. */
export function alignForBroadcast(values: Value[]): tf.Tensor[] {
  const rank = Math.max(...values.map(rankOf));
  return values.map(rank === 4 ? alignTo4 : asTensor);
}
