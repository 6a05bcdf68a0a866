/**
 * Imports an ONNX model into a TensorGraph on TensorFlow.js.
 *
 * At load time: decode the protobuf, validate the graph (every op supported, every input
 * produced, no tensor produced twice, no cycle), sort it, fold constant subgraphs (Constant nodes,
 * shape arithmetic on constants) into host tensors, and compile each remaining node (weights
 * converted once: Conv OIHW → HWIO, BatchNorm to a scale and shift, Gemm's B transposed).
 * Shape arithmetic that depends on a runtime tensor's static shape (Shape → Gather → … → Reshape)
 * stays on the host at run time: it reads shapes, never tensor data.
 */
import { tf } from "../../tf";
import type { TensorGraph } from "../graph";
import type { AffineKind } from "../affinePrefix";
import type { ChannelRule } from "../channelSlice";
import { SlicedGraph, type ExecNode } from "../slicedGraph";
import { DataType, dataTypeName, decodeModel, type OnnxModel, type OnnxNode, type OnnxValueInfo } from "./onnxProto";
import { isHost, type HostTensor } from "./hostTensor";
import { OPS, type RestrictableRun } from "./ops";
import { alignTo4, asTensor, NCHW_TO_NHWC, onnxShape, type Value } from "./value";

/** Ops whose output channel c depends only on channel c of each input (see channelSlice.ts). */
const CHANNELWISE_OPS = new Set([
  "Relu",
  "LeakyRelu",
  "Sigmoid",
  "Tanh",
  "Exp",
  "Log",
  "Sqrt",
  "Neg",
  "Abs",
  "Reciprocal",
  "Erf",
  "Softplus",
  "Clip",
  "HardSigmoid",
  "HardSwish",
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Pow",
  "Identity",
  "MaxPool",
  "AveragePool",
  "GlobalAveragePool",
  "GlobalMaxPool",
]);

/** Ops affine in their inputs at inference (see affinePrefix.ts); Pad's modes all copy values. */
export const AFFINE_OPS: Readonly<Record<string, AffineKind>> = {
  Add: "joint",
  Sub: "joint",
  Concat: "joint",
  Conv: "first",
  BatchNormalization: "first",
  Identity: "first",
  Dropout: "first",
  Neg: "first",
  AveragePool: "first",
  GlobalAveragePool: "first",
  Reshape: "first",
  Flatten: "first",
  Unsqueeze: "first",
  Squeeze: "first",
  Transpose: "first",
  Gather: "first",
  Slice: "first",
  Pad: "first",
  ReduceMean: "first",
  ReduceSum: "first",
  Div: "first",
  Mul: "one",
  MatMul: "one",
  Gemm: "one",
};

export interface ImportOnnxOptions {
  /** The graph input that receives images (default: the first input that is not an initializer). */
  inputName?: string;
  /**
   * The layout of that input in the ONNX model. "NCHW" (PyTorch exports): the engine feeds an NHWC
   * batch, which is exactly the internal layout of an NCHW tensor. "NHWC": the model's own input is
   * NHWC, and the fed batch is converted.
   */
  inputLayout?: "NCHW" | "NHWC";
  /** Label used in error messages (default: the graph's name). */
  name?: string;
}

const DEFAULT_DOMAINS = new Set(["", "ai.onnx"]);

function defaultOpset(model: OnnxModel): number {
  const imp = model.opsetImports.find((o) => DEFAULT_DOMAINS.has(o.domain));
  if (!imp) throw new Error("not an ONNX model: no default-domain opset import");
  return imp.version;
}

/** Kahn's algorithm, keeping the file's order among ready nodes; throws on a cycle. */
function topoSort(nodes: OnnxNode[], available: Set<string>, label: string): OnnxNode[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const indeg = nodes.map(
    (n) => new Set(n.inputs.filter((x) => x && !available.has(x) && producer.has(x)).map((x) => producer.get(x)!)).size,
  );
  const consumers = nodes.map(() => [] as number[]);
  nodes.forEach((n, i) => {
    for (const p of new Set(
      n.inputs.filter((x) => x && !available.has(x) && producer.has(x)).map((x) => producer.get(x)!),
    ))
      consumers[p]!.push(i);
  });
  const ready = indeg.map((d, i) => (d === 0 ? i : -1)).filter((i) => i >= 0);
  const out: OnnxNode[] = [];
  const queue = [...ready];
  // a min-ordered ready list keeps the original order where possible
  while (queue.length) {
    queue.sort((a, b) => a - b);
    const i = queue.shift()!;
    out.push(nodes[i]!);
    for (const c of consumers[i]!) if (--indeg[c]! === 0) queue.push(c);
  }
  if (out.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => indeg[i]! > 0).map((n) => `"${n.name}"`);
    throw new Error(`${label}: the graph has a cycle (nodes ${stuck.slice(0, 5).join(", ")})`);
  }
  return out;
}

function validate(model: OnnxModel, inputName: string, label: string): void {
  const g = model.graph;
  const unsupported = g.nodes.filter((n) => !DEFAULT_DOMAINS.has(n.domain) || !OPS[n.opType]);
  if (unsupported.length) {
    const n = unsupported[0]!;
    const what = DEFAULT_DOMAINS.has(n.domain)
      ? `unsupported ONNX op "${n.opType}"`
      : `unsupported op "${n.opType}" of domain "${n.domain}"`;
    const more =
      unsupported.length > 1
        ? ` (and ${unsupported.length - 1} more node(s): ${[...new Set(unsupported.slice(1).map((u) => u.opType))].join(", ")})`
        : "";
    throw new Error(`${label}: ${what} in node "${n.name}"${more}`);
  }
  const produced = new Map<string, string>();
  produced.set(inputName, "the graph input");
  for (const name of g.initializers.keys()) {
    if (produced.has(name))
      throw new Error(`${label}: tensor "${name}" is both ${produced.get(name)} and an initializer`);
    produced.set(name, "an initializer");
  }
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      const prev = produced.get(o);
      if (prev) throw new Error(`${label}: tensor "${o}" is produced twice (${prev} and node "${n.name}")`);
      produced.set(o, `node "${n.name}"`);
    }
  }
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      if (i && !produced.has(i)) {
        throw new Error(
          `${label}: node "${n.name}" (${n.opType}) reads tensor "${i}", which no node, initializer or graph input provides`,
        );
      }
    }
  }
  for (const o of g.outputs) {
    if (!produced.has(o.name)) throw new Error(`${label}: graph output "${o.name}" is not produced by any node`);
  }
}

/** Element types the image input may have: the engine feeds float32 batches, and computes every float type in float32. */
const FLOAT_INPUTS = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/**
 * The input that receives images must be a float tensor: a batch of images is fed as float32, so an
 * integer input (whose ops wrap around or divide as integers) or a sequence would run other
 * arithmetic than the model's. A value without type information is taken as it comes.
 */
function checkImageInput(info: OnnxValueInfo, label: string): void {
  if (info.kind !== undefined && info.kind !== "tensor")
    throw new Error(
      `${label}: graph input "${info.name}" is of ${info.kind} type; the image input must be a float tensor`,
    );
  if (info.elemType !== undefined && !FLOAT_INPUTS.has(info.elemType)) {
    throw new Error(
      `${label}: graph input "${info.name}" holds ${dataTypeName(info.elemType)}; the image input must be a float tensor (FLOAT, DOUBLE, FLOAT16 or BFLOAT16)`,
    );
  }
}

/**
 * What `importOnnx` checks before it builds anything: the file decodes, the opset, the input, every
 * op is supported, every tensor is produced once and before it is read. Makes no tensors (the
 * upload check runs it in the web process).
 */
export function checkOnnx(
  bytes: Uint8Array,
  opts: ImportOnnxOptions = {},
): { model: OnnxModel; label: string; inputName: string; opset: number; sorted: OnnxNode[] } {
  const model = decodeModel(bytes);
  const g = model.graph;
  const label = `ONNX model "${opts.name ?? (g.name || "model")}"`;
  const opset = defaultOpset(model);
  const inputs = g.inputs.filter((i) => !g.initializers.has(i.name)).map((i) => i.name);
  const inputName = opts.inputName ?? inputs[0];
  if (!inputName) throw new Error(`${label}: the graph has no input`);
  if (!inputs.includes(inputName)) {
    throw new Error(
      `${label}: no graph input named "${inputName}" (inputs: ${inputs.map((i) => `"${i}"`).join(", ") || "none"})`,
    );
  }
  checkImageInput(g.inputs.find((i) => i.name === inputName)!, label);
  if (g.outputs.length === 0) throw new Error(`${label}: the graph has no outputs`);
  validate(model, inputName, label);
  const available = new Set<string>([...inputs, ...g.initializers.keys()]);
  return { model, label, inputName, opset, sorted: topoSort(g.nodes, available, label) };
}

/** Imports a serialized ONNX model. Throws a clear error for anything it cannot run. */
export function importOnnx(bytes: Uint8Array, opts: ImportOnnxOptions = {}): TensorGraph {
  const { model, label, inputName, opset, sorted } = checkOnnx(bytes, opts);
  const g = model.graph;

  const constants = new Map<string, HostTensor>(g.initializers);
  const owned: tf.Tensor[] = [];
  const own = <T extends tf.Tensor>(t: T): T => {
    tf.keep(t);
    owned.push(t);
    return t;
  };
  const exec: ExecNode<Value>[] = [];
  try {
    for (const node of sorted) {
      const def = OPS[node.opType]!;
      const ins = node.inputs.map((n) => (n ? constants.get(n) : undefined));
      const allConstant = node.inputs.every((n, i) => !n || ins[i] !== undefined);
      if (def.host && allConstant) {
        let outs: HostTensor[];
        try {
          outs = def.host(ins, node, opset);
        } catch (e) {
          throw new Error(`${label}: ${node.opType} node "${node.name}": ${(e as Error).message}`);
        }
        node.outputs.forEach((o, k) => {
          const v = outs[k];
          if (o && v) constants.set(o, v);
        });
        continue;
      }
      let run: (inputs: (Value | undefined)[]) => Value[];
      try {
        run = def.compile({
          node,
          opset,
          constant: (i) => (node.inputs[i] ? constants.get(node.inputs[i]!) : undefined),
          own,
        });
      } catch (e) {
        const m = (e as Error).message;
        throw new Error(
          `${label}: ${m.startsWith(`${node.opType} node`) ? m : `${node.opType} node "${node.name}": ${m}`}`,
        );
      }
      const host = def.host;
      const restrict = (run as RestrictableRun).restrict;
      const channelRule: ChannelRule<Value> | undefined = CHANNELWISE_OPS.has(node.opType)
        ? { kind: "elementwise" }
        : restrict
          ? { kind: "producer", restrict }
          : undefined;
      exec.push({
        name: node.name,
        op: node.opType,
        inputs: node.inputs,
        outputs: node.outputs,
        run: (values) => {
          if (host && values.every((v) => v === undefined || isHost(v)))
            return host(values as (HostTensor | undefined)[], node, opset);
          return run(values);
        },
        ...(channelRule ? { channelRule } : {}),
        ...(AFFINE_OPS[node.opType] ? { affine: AFFINE_OPS[node.opType] } : {}),
        ...((run as RestrictableRun).partial ? { linearInput: (run as RestrictableRun).partial! } : {}),
      });
    }
  } catch (e) {
    owned.forEach((t) => t.dispose());
    throw e;
  }

  const layout = opts.inputLayout ?? "NCHW";
  return new SlicedGraph<Value>({
    label,
    inputName,
    outputNames: g.outputs.map((o) => o.name),
    nodes: exec,
    constants,
    fromFeed: (name, t) =>
      layout === "NHWC" && name === inputName && t.rank === 4 ? tf.transpose(t, NCHW_TO_NHWC) : t,
    toTensor: (v) => asTensor(v),
    tensorOf: (v) => (isHost(v) ? undefined : v),
    constantChannels: (v, outRank) => {
      const dims = onnxShape(v);
      if (dims.length > outRank) return undefined;
      const aligned = [...Array(outRank - dims.length).fill(1), ...dims];
      // the channel axis in ONNX order: 1 (NCHW or [N, C])
      return aligned[1];
    },
    constantChannel: (v, outRank, channel) => {
      const t = outRank === 4 ? alignTo4(v) : tf.reshape(asTensor(v), [1, -1]);
      return tf.slice(
        t,
        t.shape.map((_, i) => (i === t.rank - 1 ? channel : 0)),
        t.shape.map((_, i) => (i === t.rank - 1 ? 1 : -1)),
      );
    },
    disposeWeights: () => owned.forEach((t) => t.dispose()),
  });
}
