/** Helpers shared by the ONNX importer tests: onnxruntime as the oracle, PNG decoding, comparisons. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { tf } from "../../server/neurflow/tf";

export const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

/** Runs an ONNX file with onnxruntime on an NCHW float32 input; returns every output. */
export async function runOrt(
  file: string | Uint8Array,
  inputName: string,
  nchw: { data: Float32Array; dims: number[] },
): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const bytes = typeof file === "string" ? readFileSync(file) : file;
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ [inputName]: new ort.Tensor("float32", nchw.data, nchw.dims) });
    const r: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const [k, v] of Object.entries(out))
      r[k] = { data: Float32Array.from(v.data as Float32Array), dims: [...v.dims] };
    return r;
  } finally {
    await session.release();
  }
}

/** An internal NHWC tensor as ONNX NCHW data (other ranks unchanged). */
export function toNchw(t: tf.Tensor): { data: Float32Array; dims: number[] } {
  const u = t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t;
  const data = u.dataSync() as Float32Array;
  const dims = [...u.shape];
  if (u !== t) u.dispose();
  return { data: Float32Array.from(data), dims };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Decodes PNG files into one [N, H, W, 3] uint8-valued float tensor. */
export async function readImages(paths: string[]): Promise<tf.Tensor4D> {
  const parts: Uint8Array[] = [];
  let h = 0;
  let w = 0;
  for (const p of paths) {
    const { data, info } = await sharp(p).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    h = info.height;
    w = info.width;
    parts.push(new Uint8Array(data));
  }
  const all = new Float32Array(parts.length * h * w * 3);
  parts.forEach((p, i) => all.set(p, i * h * w * 3));
  return tf.tensor4d(all, [paths.length, h, w, 3]);
}

/** A deterministic pseudo-random generator (mulberry32) for inputs and directions. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomTensor(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = lo + (hi - lo) * r();
  return tf.tensor(d, shape);
}

/** The fixture models of tests/fixtures/models (see make_models.py), with ops each must still run after folding. */
export const MODELS: { file: string; size: number; ops: string[] }[] = [
  {
    file: "resnet_blocks",
    size: 32,
    ops: ["Add", "BatchNormalization", "Conv", "Flatten", "Gemm", "GlobalAveragePool", "Relu"],
  },
  { file: "vgg_like", size: 32, ops: ["MaxPool", "Reshape", "Gemm"] },
  { file: "inception", size: 32, ops: ["AveragePool", "Concat", "MaxPool", "Pad"] },
  { file: "mobilenetv2_blocks", size: 32, ops: ["Clip", "ReduceMean", "Conv"] },
  {
    file: "efficientnet_block",
    size: 32,
    ops: ["HardSigmoid", "HardSwish", "Sigmoid", "Mul", "ReduceMean", "Softmax"],
  },
  { file: "misc_ops", size: 32, ops: ["Pad", "Sub", "Div", "LeakyRelu", "Tanh", "MatMul"] },
  { file: "tv_resnet18_tiny", size: 32, ops: ["MaxPool", "Add"] },
  { file: "tv_mobilenet_v2_tiny", size: 32, ops: ["Clip"] },
  { file: "tv_mobilenet_v3_small_tiny", size: 32, ops: ["HardSwish", "HardSigmoid"] },
  { file: "tv_efficientnet_tiny", size: 32, ops: ["BatchNormalization", "Sigmoid"] },
  { file: "tv_shufflenet_v2_tiny", size: 32, ops: ["Transpose", "Slice", "Reshape"] },
  { file: "attrs_opset9", size: 8, ops: ["Conv", "Clip", "HardSigmoid", "GlobalMaxPool"] },
  { file: "dropout_gemm", size: 8, ops: ["Dropout", "Gemm", "AveragePool"] },
];

export function modelPath(name: string): string {
  return join(FIXTURES, "models", `${name}.onnx`);
}
