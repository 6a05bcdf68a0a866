/**
 * A tensor held in JavaScript memory, in ONNX's own layout (NCHW for 4-D): initializers,
 * Constant nodes, and the small shape tensors that exports compute (Shape → Gather → Concat →
 * Reshape). Shape arithmetic runs on these directly, without a device round trip; a host tensor
 * becomes a tf.Tensor (4-D ones transposed to NHWC) only where a tfjs op consumes it.
 */

/** float32 covers every ONNX float type; int64 every integer type (exact up to 2^53). */
export type HostDType = "float32" | "int64" | "bool";

export interface HostTensor {
  readonly kind: "host";
  readonly dtype: HostDType;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | Uint8Array;
}

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function hostTensor(dtype: HostDType, dims: readonly number[], values: ArrayLike<number>): HostTensor {
  const n = sizeOf(dims);
  if (values.length !== n) {
    throw new Error(`tensor of shape [${dims.join(",")}] needs ${n} values, got ${values.length}`);
  }
  const data =
    dtype === "float32"
      ? Float32Array.from(values)
      : dtype === "int64"
        ? Float64Array.from(values)
        : Uint8Array.from(values);
  return { kind: "host", dtype, dims: [...dims], data };
}

export function isHost(v: unknown): v is HostTensor {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "host";
}

/** The values as plain numbers (for attributes given as tensors: shapes, axes, pads). */
export function hostValues(t: HostTensor): number[] {
  return Array.from(t.data);
}

/** Row-major strides of a shape. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}
