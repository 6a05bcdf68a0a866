/**
 * A small builder of ONNX graphs for onnxruntime: nodes copied from a model or made here, the
 * initializers they read, typed inputs and outputs, encoded with the ONNX schema (`onnx-proto`).
 * Tensor names made here are unique (`nf/…`), so copied nodes keep their own names.
 */
import { createRequire } from "node:module";
import type { onnx as OnnxNs } from "onnx-proto";

const require = createRequire(import.meta.url);
export const onnx = (require("onnx-proto") as { onnx: typeof OnnxNs }).onnx;
export type NodeProto = OnnxNs.INodeProto;
export type TensorProto = OnnxNs.ITensorProto;
export type AttributeProto = OnnxNs.IAttributeProto;

const FLOAT = 1;
const INT64 = 7;
const BOOL = 9;
export type ElemType = "float32" | "int64" | "bool";
const ELEM: Record<ElemType, number> = { float32: FLOAT, int64: INT64, bool: BOOL };

/** An attribute value as the builder takes it. */
export type Attr = number | string | number[] | { float: number } | { floats: number[] } | { tensor: TensorProto };

export function attribute(name: string, v: Attr): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") return { name, type: T.INT, i: v };
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ("float" in v) return { name, type: T.FLOAT, f: v.float };
  if ("floats" in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.TENSOR, t: v.tensor };
}

/** A number of an attribute (INT, or FLOAT), or `fallback` when absent. */
export function numberAttr(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return fallback;
  if (a.type === onnx.AttributeProto.AttributeType.FLOAT) return a.f ?? fallback;
  return Number(a.i ?? fallback);
}

export function intsAttr(node: NodeProto, name: string): number[] | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.ints ? a.ints.map((x) => Number(x)) : undefined;
}

export function stringAttr(node: NodeProto, name: string): string | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.s ? new TextDecoder().decode(a.s) : undefined;
}

export function floatTensor(
  name: string,
  dims: readonly number[],
  values: Float32Array | readonly number[],
): TensorProto {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  return {
    name,
    dims: [...dims],
    dataType: FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims: [...dims], dataType: INT64, rawData: new Uint8Array(data.buffer) };
}

/** The values of an integer tensor (int64 or int32), or undefined for other types. */
export function tensorInts(t: TensorProto): number[] | undefined {
  if (t.dataType === INT64) {
    if (t.rawData && t.rawData.length) {
      const raw = t.rawData;
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return Array.from({ length: raw.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
    }
    return (t.int64Data ?? []).map((v) => Number(v));
  }
  if (t.dataType === 6) {
    if (t.rawData && t.rawData.length) {
      const raw = t.rawData;
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getInt32(i * 4, true));
    }
    return [...(t.int32Data ?? [])];
  }
  return undefined;
}

export class OnnxGraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers = new Map<string, TensorProto>();
  private readonly inputs: OnnxNs.IValueInfoProto[] = [];
  private readonly outputs: OnnxNs.IValueInfoProto[] = [];
  private counter = 0;
  private readonly constants = new Map<string, string>();

  constructor(private readonly source?: ReadonlyMap<string, TensorProto>) {}

  /** A fresh tensor name. */
  fresh(hint: string): string {
    return `nf/${hint}/${this.counter++}`;
  }

  /** Uses an initializer of the source model (copied once). */
  includeInitializer(name: string): boolean {
    if (this.initializers.has(name)) return true;
    const t = this.source?.get(name);
    if (!t) return false;
    this.initializers.set(name, t);
    return true;
  }

  addInitializer(t: TensorProto): string {
    this.initializers.set(t.name!, t);
    return t.name!;
  }

  /** A float or int64 constant, shared by value. */
  constant(
    values: readonly number[],
    dims: readonly number[] = [values.length],
    type: "float32" | "int64" = "float32",
  ): string {
    const key = `${type}:${dims.join(",")}:${values.join(",")}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh("const");
      this.addInitializer(type === "float32" ? floatTensor(name, dims, values) : int64Tensor(name, dims, values));
      this.constants.set(key, name);
    }
    return name;
  }

  scalar(v: number): string {
    return this.constant([v], []);
  }

  input(name: string, type: ElemType, dims: readonly (number | string)[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** A graph output; without `dims`, of unknown shape. */
  output(name: string, type: ElemType, dims?: readonly (number | string)[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a node; returns its outputs (fresh names unless given). */
  op(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, Attr> = {},
    outputs: number | string[] = 1,
  ): string[] {
    const outs = typeof outputs === "number" ? Array.from({ length: outputs }, () => this.fresh(opType)) : outputs;
    this.nodes.push({
      opType,
      input: [...inputs],
      output: outs,
      name: this.fresh(`node/${opType}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** One-output node. */
  op1(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}): string {
    return this.op(opType, inputs, attrs)[0]!;
  }

  /** A copy of a source node with renamed inputs and outputs. */
  copy(node: NodeProto, inputs: readonly string[], outputs: readonly string[], extra?: AttributeProto[]): void {
    this.nodes.push({
      ...node,
      input: [...inputs],
      output: [...outputs],
      name: this.fresh(`copy/${node.name ?? node.opType}`),
      attribute: [...(node.attribute ?? []), ...(extra ?? [])],
    });
  }

  encode(opset: number): Uint8Array {
    const model: OnnxNs.IModelProto = {
      irVersion: 8,
      producerName: "neurflow",
      opsetImport: [{ domain: "", version: opset }],
      graph: {
        name: "neurflow",
        node: this.nodes,
        initializer: [...this.initializers.values()],
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemType, dims?: readonly (number | string)[]): OnnxNs.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType: ELEM[type], ...(shape ? { shape } : {}) } } };
}
