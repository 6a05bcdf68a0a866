/**
 * The parts of an ONNX ModelProto the importer needs, decoded with the ONNX schema (`onnx-proto`,
 * on protobufjs) and converted to the importer's own types: the opset imports and the graph —
 * nodes with their attributes, initializers (as host tensors), and the graph's inputs and outputs.
 * Anything malformed is an Error "not an ONNX model: …".
 */
import onnxProto from "onnx-proto";
import type { onnx as OnnxNs } from "onnx-proto";
import protobuf from "protobufjs/minimal";
import type { Reader } from "protobufjs/minimal";
import { sizeOf, type HostDType, type HostTensor } from "./hostTensor";

// a CommonJS package: its default export is the schema's root
const { onnx } = onnxProto;

/** TensorProto.DataType values. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

const DATA_TYPE_NAMES = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k])) as Record<number, string>;

export function dataTypeName(t: number): string {
  return DATA_TYPE_NAMES[t] ?? `data type ${t}`;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: HostTensor;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  /** Subgraph attributes (If/Loop bodies) are not decoded, only noted. */
  hasGraph: boolean;
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
}

export interface OnnxValueInfo {
  name: string;
  /** What kind of value it is (TypeProto's `value` case); undefined when the file gives no type. */
  kind?: "tensor" | "sequence" | "map" | "optional" | "sparse tensor" | "opaque";
  elemType?: number;
  /** Dimensions: a number, a symbolic name, or null when unknown. */
  shape?: (number | string | null)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Map<string, HostTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  opsetImports: { domain: string; version: number }[];
  graph: OnnxGraph;
}

class OnnxFormatError extends Error {}

function fail(message: string): never {
  throw new OnnxFormatError(message);
}

/** Decodes a serialized ModelProto. Throws "not an ONNX model: …" on anything malformed. */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  if (bytes.length === 0) throw new Error("not an ONNX model: the file is empty");
  return converted("not an ONNX model", () => toModel(parsed(bytes, (r) => onnx.ModelProto.decode(r))));
}

/**
 * Decodes a serialized TensorProto (a `.pb` file of ONNX's test data, for instance) into its name
 * and a host tensor, with the same rules as initializers. Throws "not an ONNX tensor: …".
 */
export function decodeTensor(bytes: Uint8Array): { name: string; tensor: HostTensor } {
  return converted("not an ONNX tensor", () => toTensor(parsed(bytes, (r) => onnx.TensorProto.decode(r))));
}

/**
 * protobufjs's decode: every error it throws (a read past the end of the buffer, an invalid wire
 * type or varint, a stack overflow on absurdly nested messages) means the bytes are not a valid
 * message of the schema. It reads a varint cut off by the end of the buffer as if zeros followed,
 * so a read that ended past the end is an error too.
 */
function parsed<T>(bytes: Uint8Array, decode: (reader: Reader) => T): T {
  let reader: Reader | undefined;
  let message: T;
  try {
    reader = protobuf.Reader.create(bytes);
    message = decode(reader);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    fail(`the file is truncated or corrupt (protobuf: ${why})`);
  }
  if (reader.pos > reader.len)
    fail(`the file is truncated or corrupt (protobuf: a value runs past the end, ${reader.len} bytes)`);
  return message;
}

function converted<T>(what: string, convert: () => T): T {
  try {
    return convert();
  } catch (e) {
    if (e instanceof OnnxFormatError || e instanceof RangeError) throw new Error(`${what}: ${e.message}`);
    throw e;
  }
}

/** An int64 field's value: protobufjs gives a Long where the long package is installed. */
function int(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : v.toNumber();
}

/** Whether the file sets the field (protobufjs keeps defaults on the prototype). */
function has(message: object, field: string): boolean {
  return Object.hasOwn(message, field);
}

function toModel(m: OnnxNs.ModelProto): OnnxModel {
  const graph = m.graph ? toGraph(m.graph) : null;
  if (m.functions.length) fail("model-local functions are not supported");
  const irVersion = has(m, "irVersion") ? int(m.irVersion) : -1;
  if (irVersion < 1 || irVersion > 100)
    fail(irVersion < 0 ? "no ir_version field" : `implausible ir_version ${irVersion}`);
  if (!graph) fail("no graph in the model");
  if (graph.nodes.length === 0) fail("the graph has no nodes");
  const opsetImports = m.opsetImport.map((o) => ({ domain: o.domain ?? "", version: int(o.version) }));
  return { irVersion, producerName: m.producerName, opsetImports, graph };
}

function toGraph(p: OnnxNs.IGraphProto): OnnxGraph {
  const g: OnnxGraph = { name: p.name ?? "", nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  for (const n of p.node ?? []) g.nodes.push(toNode(n, g.nodes.length));
  for (const i of p.initializer ?? []) {
    const t = toTensor(i);
    if (g.initializers.has(t.name)) fail(`initializer "${t.name}" is defined twice`);
    g.initializers.set(t.name, t.tensor);
  }
  if (p.sparseInitializer?.length) fail("sparse initializers are not supported");
  g.inputs = (p.input ?? []).map(toValueInfo);
  g.outputs = (p.output ?? []).map(toValueInfo);
  return g;
}

function toNode(p: OnnxNs.INodeProto, index: number): OnnxNode {
  const n: OnnxNode = {
    name: p.name ?? "",
    opType: p.opType ?? "",
    domain: p.domain ?? "",
    inputs: [...(p.input ?? [])],
    outputs: [...(p.output ?? [])],
    attributes: new Map(),
  };
  for (const a of p.attribute ?? []) {
    const attr = toAttribute(a);
    n.attributes.set(attr.name, attr);
  }
  if (!n.opType) fail(`node #${index} has no op_type`);
  if (!n.name) n.name = `${n.opType}_${index}`;
  return n;
}

function toAttribute(p: OnnxNs.IAttributeProto): OnnxAttribute {
  if (!p.name) fail("an attribute has no name");
  const a: OnnxAttribute = {
    name: p.name,
    type: p.type ?? 0,
    floats: [...(p.floats ?? [])],
    ints: (p.ints ?? []).map(int),
    strings: [...(p.strings ?? [])],
    hasGraph: has(p, "g") || (p.graphs?.length ?? 0) > 0,
  };
  if (has(p, "f")) a.f = p.f!;
  if (has(p, "i")) a.i = int(p.i);
  if (has(p, "s")) a.s = p.s!;
  if (p.t && has(p, "t")) a.t = toTensor(p.t).tensor;
  return a;
}

function toValueInfo(p: OnnxNs.IValueInfoProto): OnnxValueInfo {
  const v: OnnxValueInfo = { name: p.name ?? "" };
  const t = p.type;
  if (!t) return v;
  if (t.tensorType) {
    v.kind = "tensor";
    if (has(t.tensorType, "elemType")) v.elemType = t.tensorType.elemType!;
    if (t.tensorType.shape)
      v.shape = (t.tensorType.shape.dim ?? []).map((d) =>
        has(d, "dimValue") ? int(d.dimValue) : has(d, "dimParam") ? d.dimParam! : null,
      );
  } else if (t.sequenceType) v.kind = "sequence";
  else if (t.mapType) v.kind = "map";
  else if (t.sparseTensorType) v.kind = "sparse tensor";
  else if (t.optionalType) v.kind = "optional";
  return v;
}

function toTensor(p: OnnxNs.ITensorProto): { name: string; tensor: HostTensor } {
  const name = p.name ?? "";
  const t: RawTensor = {
    dims: (p.dims ?? []).map(int),
    dataType: p.dataType ?? 0,
    name,
    floatData: p.floatData ?? [],
    int32Data: p.int32Data ?? [],
    int64Data: (p.int64Data ?? []).map(int),
    doubleData: p.doubleData ?? [],
    uint64Data: (p.uint64Data ?? []).map(int),
    external: (p.externalData?.length ?? 0) > 0 || p.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL,
    strings: (p.stringData?.length ?? 0) > 0,
  };
  if (p.rawData && has(p, "rawData")) t.raw = p.rawData;
  return { name, tensor: toHost(t) };
}

interface RawTensor {
  dims: number[];
  dataType: number;
  name: string;
  raw?: Uint8Array;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  uint64Data: number[];
  external: boolean;
  strings: boolean;
}

/** The host type that holds ONNX `dataType` (floats as float32, integers as int64), or null. */
export function hostDTypeFor(dataType: number): HostDType | null {
  switch (dataType) {
    case DataType.FLOAT:
    case DataType.DOUBLE:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return "float32";
    case DataType.BOOL:
      return "bool";
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.UINT16:
    case DataType.INT16:
    case DataType.INT32:
    case DataType.INT64:
    case DataType.UINT32:
    case DataType.UINT64:
      return "int64";
    default:
      return null;
  }
}

function hostDType(dataType: number, name: string): HostDType {
  return hostDTypeFor(dataType) ?? fail(`tensor "${name}" has unsupported ${dataTypeName(dataType)}`);
}

const ELEMENT_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.INT16]: 2,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.BOOL]: 1,
  [DataType.FLOAT16]: 2,
  [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4,
  [DataType.UINT64]: 8,
  [DataType.BFLOAT16]: 2,
};

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const bf16View = new DataView(new ArrayBuffer(4));
function bfloat16ToFloat(h: number): number {
  bf16View.setUint32(0, h << 16);
  return bf16View.getFloat32(0);
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function decodeRaw(raw: Uint8Array, dataType: number, n: number, out: Float32Array | Float64Array | Uint8Array): void {
  if (dataType === DataType.FLOAT && LITTLE_ENDIAN && out instanceof Float32Array) {
    // raw_data is little-endian: on such a host, FLOAT weights are copied as they are
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(raw);
    return;
  }
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < n; i++) {
    switch (dataType) {
      case DataType.FLOAT:
        out[i] = v.getFloat32(i * 4, true);
        break;
      case DataType.DOUBLE:
        out[i] = v.getFloat64(i * 8, true);
        break;
      case DataType.FLOAT16:
        out[i] = halfToFloat(v.getUint16(i * 2, true));
        break;
      case DataType.BFLOAT16:
        out[i] = bfloat16ToFloat(v.getUint16(i * 2, true));
        break;
      case DataType.UINT8:
      case DataType.BOOL:
        out[i] = v.getUint8(i);
        break;
      case DataType.INT8:
        out[i] = v.getInt8(i);
        break;
      case DataType.UINT16:
        out[i] = v.getUint16(i * 2, true);
        break;
      case DataType.INT16:
        out[i] = v.getInt16(i * 2, true);
        break;
      case DataType.INT32:
        out[i] = v.getInt32(i * 4, true);
        break;
      case DataType.UINT32:
        out[i] = v.getUint32(i * 4, true);
        break;
      case DataType.INT64:
        out[i] = Number(v.getBigInt64(i * 8, true));
        break;
      case DataType.UINT64:
        out[i] = Number(v.getBigUint64(i * 8, true));
        break;
    }
  }
}

function toHost(t: RawTensor): HostTensor {
  const label = t.name ? `tensor "${t.name}"` : "a tensor";
  if (t.strings || t.dataType === DataType.STRING) fail(`${label} holds strings, which are not supported`);
  if (t.external) {
    fail(
      `${label} keeps its data in an external file, which is not supported: re-export with the weights embedded (save_as_external_data=False)`,
    );
  }
  for (const d of t.dims)
    if (!Number.isInteger(d) || d < 0 || d > 2 ** 31) fail(`${label} has an invalid dimension ${d}`);
  const dtype = hostDType(t.dataType, t.name);
  const n = sizeOf(t.dims);
  if (n > 2 ** 31) fail(`${label} is too large (${n} elements)`);
  const out = dtype === "float32" ? new Float32Array(n) : dtype === "int64" ? new Float64Array(n) : new Uint8Array(n);
  if (t.raw !== undefined) {
    const expected = n * ELEMENT_BYTES[t.dataType]!;
    if (t.raw.length !== expected)
      fail(`${label} has ${t.raw.length} bytes of raw data, its shape [${t.dims.join(",")}] needs ${expected}`);
    decodeRaw(t.raw, t.dataType, n, out);
  } else {
    let src: number[];
    switch (t.dataType) {
      case DataType.FLOAT:
        src = t.floatData;
        break;
      case DataType.INT64:
        src = t.int64Data;
        break;
      case DataType.DOUBLE:
        src = t.doubleData;
        break;
      case DataType.UINT32:
      case DataType.UINT64:
        src = t.uint64Data;
        break;
      case DataType.FLOAT16:
        src = t.int32Data.map(halfToFloat);
        break;
      case DataType.BFLOAT16:
        src = t.int32Data.map(bfloat16ToFloat);
        break;
      default:
        src = t.int32Data;
    }
    if (src.length !== n) fail(`${label} has ${src.length} values, its shape [${t.dims.join(",")}] needs ${n}`);
    out.set(src);
  }
  return { kind: "host", dtype, dims: t.dims, data: out };
}

// ----- attribute accessors -------------------------------------------------------------------

export function attrInt(node: OnnxNode, name: string, fallback: number): number;
export function attrInt(node: OnnxNode, name: string): number | undefined;
export function attrInt(node: OnnxNode, name: string, fallback?: number): number | undefined {
  const a = node.attributes.get(name);
  return a?.i ?? fallback;
}

export function attrFloat(node: OnnxNode, name: string, fallback: number): number;
export function attrFloat(node: OnnxNode, name: string): number | undefined;
export function attrFloat(node: OnnxNode, name: string, fallback?: number): number | undefined {
  const a = node.attributes.get(name);
  return a?.f ?? fallback;
}

export function attrInts(node: OnnxNode, name: string): number[] | undefined {
  const a = node.attributes.get(name);
  if (!a) return undefined;
  return a.ints;
}

export function attrString(node: OnnxNode, name: string, fallback: string): string {
  const a = node.attributes.get(name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}

/** The value of a Constant node (value, value_float(s), value_int(s)). */
export function constantNodeValue(node: OnnxNode): HostTensor {
  const a = node.attributes;
  const t = a.get("value")?.t;
  if (t) return t;
  const vf = a.get("value_float");
  if (vf?.f !== undefined) return { kind: "host", dtype: "float32", dims: [], data: Float32Array.of(vf.f) };
  const vfs = a.get("value_floats");
  if (vfs) return { kind: "host", dtype: "float32", dims: [vfs.floats.length], data: Float32Array.from(vfs.floats) };
  const vi = a.get("value_int");
  if (vi?.i !== undefined) return { kind: "host", dtype: "int64", dims: [], data: Float64Array.of(vi.i) };
  const vis = a.get("value_ints");
  if (vis) return { kind: "host", dtype: "int64", dims: [vis.ints.length], data: Float64Array.from(vis.ints) };
  throw new Error(
    `Constant node "${node.name}" has no supported value attribute (value, value_float(s), value_int(s))`,
  );
}
