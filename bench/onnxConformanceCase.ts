/**
 * One case of the ONNX project's backend node tests (`<case>/model.onnx` with
 * `test_data_set_0/input_*.pb` and `output_*.pb`) run through the ONNX importer.
 *
 * The importer takes one image-like graph input (the first that is not an initializer) and
 * expects everything else — weights, shapes, axes, bounds — to be known at load time. So the
 * other graph inputs of a case become initializers holding their `input_*.pb`, the first input is
 * fed as the engine feeds images (float32; a 4-D input in the internal NHWC layout of the model's
 * NCHW), and every graph output is compared with its `output_*.pb` as onnx's backend tests do
 * (|actual − expected| ≤ atol + rtol·|expected|, NaN matching NaN).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { importOnnx } from "../server/neurflow/model/onnx/importOnnx";
import { DataType, decodeModel, decodeTensor } from "../server/neurflow/model/onnx/onnxProto";
import { OPS } from "../server/neurflow/model/onnx/ops";
import { tf } from "../server/neurflow/tf";

/** onnx's backend test runner compares with numpy's assert_allclose at these tolerances. */
export const RTOL = 1e-3;
export const ATOL = 1e-7;

const { onnx } = onnxProto;

const DEFAULT_DOMAINS = new Set(["", "ai.onnx"]);

export type CaseStatus = "pass" | "fail" | "refused" | "not claimed";

export interface CaseResult {
  name: string;
  status: CaseStatus;
  /** The case's ops (domain-qualified outside the default domain). */
  ops: string[];
  /** Ops the importer does not claim ("not claimed" cases). */
  unclaimed: string[];
  /** The importer's refusal, or why the case failed. */
  message?: string;
  /** Largest |actual − expected| over all outputs (pass and numeric fails). */
  maxError?: number;
}

// ----- editing a case's protobufs ---------------------------------------------------------------

/**
 * The model with `tensors` (serialized TensorProtos) added to its graph as initializers named
 * `name`. The model is decoded and re-encoded with the ONNX schema the importer reads it with, so
 * nothing the importer sees is lost.
 */
export function withInitializers(model: Uint8Array, tensors: { name: string; bytes: Uint8Array }[]): Uint8Array {
  const m = onnx.ModelProto.decode(model);
  if (!m.graph) return model;
  const extra = tensors.map(({ name, bytes }) => Object.assign(onnx.TensorProto.decode(bytes), { name }));
  // a message's absent repeated field is a shared, frozen empty array: replaced, never pushed to
  m.graph.initializer = [...(m.graph.initializer ?? []), ...extra];
  return onnx.ModelProto.encode(m).finish();
}

/**
 * The test data as the graph declares it. numpy has no bfloat16, so onnx's test data stores the
 * BFLOAT16 values of a graph input or output as UINT16 bit patterns (same size, same storage);
 * the tensor is relabelled.
 */
export function asDeclared(tensor: Uint8Array, declared: number | undefined): Uint8Array {
  if (declared !== DataType.BFLOAT16) return tensor;
  const t = onnx.TensorProto.decode(tensor);
  if (t.dataType !== DataType.UINT16) return tensor;
  t.dataType = DataType.BFLOAT16;
  return onnx.TensorProto.encode(t).finish();
}

// ----- comparison --------------------------------------------------------------------------------

export interface Comparison {
  ok: boolean;
  maxError: number;
  /** Why it is not ok: a shape mismatch, or the worst element. */
  detail?: string;
}

/** numpy.testing.assert_allclose(actual, expected, rtol, atol) with equal shapes. */
export function compareOutput(
  actual: { dims: readonly number[]; data: ArrayLike<number> },
  expected: { dims: readonly number[]; data: ArrayLike<number> },
  rtol = RTOL,
  atol = ATOL,
): Comparison {
  const same = actual.dims.length === expected.dims.length && actual.dims.every((d, i) => d === expected.dims[i]);
  if (!same) return { ok: false, maxError: Infinity, detail: `shape [${actual.dims}], expected [${expected.dims}]` };
  let maxError = 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i]!;
    const e = expected.data[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue; // equal infinities included
    const err = Math.abs(a - e);
    if (!(err <= maxError)) maxError = Number.isNaN(err) ? Infinity : Math.max(maxError, err);
    const excess = err - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst < 0) return { ok: true, maxError };
  return {
    ok: false,
    maxError,
    detail: `element ${worst}: ${actual.data[worst]} against ${expected.data[worst]}`,
  };
}

// ----- a case --------------------------------------------------------------------------------

function opsOf(model: ReturnType<typeof decodeModel>): { ops: string[]; unclaimed: string[] } {
  const ops = [
    ...new Set(model.graph.nodes.map((n) => (DEFAULT_DOMAINS.has(n.domain) ? n.opType : `${n.domain}.${n.opType}`))),
  ];
  return { ops, unclaimed: ops.filter((o) => !OPS[o]) };
}

function dataFiles(dir: string, prefix: "input" | "output"): string[] {
  const set = join(dir, "test_data_set_0");
  const files: string[] = [];
  for (let i = 0; existsSync(join(set, `${prefix}_${i}.pb`)); i++) files.push(join(set, `${prefix}_${i}.pb`));
  return files;
}

/** The internal tensor as ONNX's layout (NHWC → NCHW for 4-D) and its values. */
function onnxValues(t: tf.Tensor): { dims: number[]; data: ArrayLike<number> } {
  const u = t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t;
  const out = { dims: [...u.shape], data: u.dataSync() as ArrayLike<number> };
  if (u !== t) u.dispose();
  return out;
}

/**
 * Runs the case in `dir`; never throws for a problem of the case. `name` defaults to the folder's;
 * `model` replaces the folder's model.onnx (a test's edited copy).
 */
export function runCase(dir: string, opts: { name?: string; model?: Uint8Array } = {}): CaseResult {
  const name = opts.name ?? dir.split("/").filter(Boolean).pop()!;
  const bytes = opts.model ?? new Uint8Array(readFileSync(join(dir, "model.onnx")));
  let decoded: ReturnType<typeof decodeModel>;
  try {
    decoded = decodeModel(bytes);
  } catch (e) {
    return { name, status: "refused", ops: [], unclaimed: [], message: (e as Error).message };
  }
  const { ops, unclaimed } = opsOf(decoded);
  if (unclaimed.length) return { name, status: "not claimed", ops, unclaimed };

  const g = decoded.graph;
  const inputs = g.inputs.filter((i) => !g.initializers.has(i.name)).map((i) => i.name);
  const inputFiles = dataFiles(dir, "input");
  const outputFiles = dataFiles(dir, "output");
  // every input but the first becomes an initializer holding its test data
  const declared = (n: string) => g.inputs.find((i) => i.name === n)?.elemType;
  const extra = inputs
    .slice(1, inputFiles.length)
    .map((n, k) => ({ name: n, bytes: asDeclared(readFileSync(inputFiles[k + 1]!), declared(n)) }));
  const model = extra.length ? withInitializers(bytes, extra) : bytes;

  let graph: ReturnType<typeof importOnnx>;
  try {
    graph = importOnnx(model, { name });
  } catch (e) {
    return { name, status: "refused", ops, unclaimed, message: (e as Error).message };
  }
  const fail = (message: string, maxError?: number): CaseResult => ({
    name,
    status: "fail",
    ops,
    unclaimed,
    message,
    ...(maxError !== undefined ? { maxError } : {}),
  });
  try {
    if (!inputFiles[0]) return fail("the test data has no input_0.pb");
    if (outputFiles.length !== graph.outputNames.length)
      return fail(`${graph.outputNames.length} graph outputs, ${outputFiles.length} expected outputs`);
    const x = decodeTensor(asDeclared(readFileSync(inputFiles[0]), declared(graph.inputName))).tensor;
    const expected = outputFiles.map(
      (f, k) => decodeTensor(asDeclared(readFileSync(f), g.outputs[k]?.elemType)).tensor,
    );
    let outs: tf.Tensor[];
    const feed = tf.tidy(() => {
      // the engine feeds float32 batches; a 4-D input in the internal layout of NCHW (NHWC)
      const t = tf.tensor(Float32Array.from(x.data), [...x.dims], "float32");
      return t.rank === 4 ? tf.transpose(t, [0, 2, 3, 1]) : t;
    });
    try {
      outs = graph.run({ [graph.inputName]: feed }, graph.outputNames);
    } catch (e) {
      return fail(`crashed at run time: ${(e as Error).message}`);
    } finally {
      feed.dispose();
    }
    let maxError = 0;
    const problems: string[] = [];
    outs.forEach((t, k) => {
      const c = compareOutput(onnxValues(t), expected[k]!);
      maxError = Math.max(maxError, c.maxError);
      if (!c.ok) problems.push(`output "${graph.outputNames[k]}": ${c.detail}`);
      t.dispose();
    });
    if (problems.length) return fail(problems.join("; "), maxError);
    return { name, status: "pass", ops, unclaimed, maxError };
  } catch (e) {
    return fail(`runner error: ${(e as Error).message}`);
  } finally {
    graph.dispose();
  }
}

/** The case folders under a `data/node` folder (or a folder of case folders), sorted by name. */
export function listCases(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, "model.onnx")))
    .map((d) => d.name)
    .sort();
}
