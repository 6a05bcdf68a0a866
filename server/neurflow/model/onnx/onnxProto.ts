/**
 * Decodes the parts of an ONNX ModelProto the importer needs (onnx.proto3 field numbers): the
 * opset imports and the graph — nodes with their attributes, initializers (TensorProto), and the
 * graph's inputs and outputs. Anything malformed is an Error "not an ONNX model: …".
 */
import { ProtoReader, ProtobufError, WireType, type WireTypeValue } from "./protobuf";
import { sizeOf, type HostDType, type HostTensor } from "./hostTensor";

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

/** AttributeProto.AttributeType values. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

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
  try {
    if (bytes.length === 0) fail("the file is empty");
    return readModel(new ProtoReader(bytes));
  } catch (e) {
    if (e instanceof ProtobufError || e instanceof OnnxFormatError || e instanceof RangeError) {
      throw new Error(`not an ONNX model: ${e.message}`);
    }
    throw e;
  }
}

/**
 * Decodes a serialized TensorProto (a `.pb` file of ONNX's test data, for instance) into its name
 * and a host tensor, with the same rules as initializers. Throws "not an ONNX tensor: …".
 */
export function decodeTensor(bytes: Uint8Array): { name: string; tensor: HostTensor } {
  try {
    return readTensor(new ProtoReader(bytes));
  } catch (e) {
    if (e instanceof ProtobufError || e instanceof OnnxFormatError || e instanceof RangeError) {
      throw new Error(`not an ONNX tensor: ${e.message}`);
    }
    throw e;
  }
}

function readModel(r: ProtoReader): OnnxModel {
  let irVersion = -1;
  let producerName = "";
  const opsetImports: OnnxModel["opsetImports"] = [];
  let graph: OnnxGraph | null = null;
  while (!r.done) {
    const { field, wire } = r.header();
    if (field === 1 && wire === WireType.VARINT) irVersion = r.int64();
    else if (field === 2 && wire === WireType.LEN) producerName = r.string();
    else if (field === 7 && wire === WireType.LEN) graph = readGraph(r.message());
    else if (field === 8 && wire === WireType.LEN) opsetImports.push(readOpset(r.message()));
    else if (field === 25 && wire === WireType.LEN) fail("model-local functions are not supported");
    else r.skip(wire);
  }
  if (irVersion < 1 || irVersion > 100)
    fail(irVersion < 0 ? "no ir_version field" : `implausible ir_version ${irVersion}`);
  if (!graph) fail("no graph in the model");
  if (graph.nodes.length === 0) fail("the graph has no nodes");
  return { irVersion, producerName, opsetImports, graph };
}

function readOpset(r: ProtoReader): { domain: string; version: number } {
  let domain = "";
  let version = 0;
  while (!r.done) {
    const { field, wire } = r.header();
    if (field === 1 && wire === WireType.LEN) domain = r.string();
    else if (field === 2 && wire === WireType.VARINT) version = r.int64();
    else r.skip(wire);
  }
  return { domain, version };
}

function readGraph(r: ProtoReader): OnnxGraph {
  const g: OnnxGraph = { name: "", nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  while (!r.done) {
    const { field, wire } = r.header();
    if (wire !== WireType.LEN) {
      r.skip(wire);
      continue;
    }
    switch (field) {
      case 1:
        g.nodes.push(readNode(r.message(), g.nodes.length));
        break;
      case 2:
        g.name = r.string();
        break;
      case 5: {
        const t = readTensor(r.message());
        if (g.initializers.has(t.name)) fail(`initializer "${t.name}" is defined twice`);
        g.initializers.set(t.name, t.tensor);
        break;
      }
      case 11:
        g.inputs.push(readValueInfo(r.message()));
        break;
      case 12:
        g.outputs.push(readValueInfo(r.message()));
        break;
      case 15:
        fail("sparse initializers are not supported");
        break;
      default:
        r.skip(wire);
    }
  }
  return g;
}

function readNode(r: ProtoReader, index: number): OnnxNode {
  const n: OnnxNode = { name: "", opType: "", domain: "", inputs: [], outputs: [], attributes: new Map() };
  while (!r.done) {
    const { field, wire } = r.header();
    if (wire !== WireType.LEN) {
      r.skip(wire);
      continue;
    }
    if (field === 1) n.inputs.push(r.string());
    else if (field === 2) n.outputs.push(r.string());
    else if (field === 3) n.name = r.string();
    else if (field === 4) n.opType = r.string();
    else if (field === 7) n.domain = r.string();
    else if (field === 5) {
      const a = readAttribute(r.message());
      n.attributes.set(a.name, a);
    } else r.skip(wire);
  }
  if (!n.opType) fail(`node #${index} has no op_type`);
  if (!n.name) n.name = `${n.opType}_${index}`;
  return n;
}

function readAttribute(r: ProtoReader): OnnxAttribute {
  const a: OnnxAttribute = { name: "", type: 0, floats: [], ints: [], strings: [], hasGraph: false };
  while (!r.done) {
    const { field, wire } = r.header();
    switch (field) {
      case 1:
        expectLen(wire, "AttributeProto.name");
        a.name = r.string();
        break;
      case 20:
        a.type = r.int64();
        break;
      case 2:
        if (wire !== WireType.I32) fail("AttributeProto.f has the wrong wire type");
        a.f = r.float();
        break;
      case 3:
        a.i = r.int64();
        break;
      case 4:
        expectLen(wire, "AttributeProto.s");
        a.s = r.bytesField();
        break;
      case 5:
        expectLen(wire, "AttributeProto.t");
        a.t = readTensor(r.message()).tensor;
        break;
      case 6:
      case 11:
        a.hasGraph = true;
        r.skip(wire);
        break;
      case 7:
        r.repeatedFloat(wire, a.floats);
        break;
      case 8:
        r.repeatedInt64(wire, a.ints);
        break;
      case 9:
        expectLen(wire, "AttributeProto.strings");
        a.strings.push(r.bytesField());
        break;
      default:
        r.skip(wire);
    }
  }
  if (!a.name) fail("an attribute has no name");
  return a;
}

function expectLen(wire: WireTypeValue, what: string): void {
  if (wire !== WireType.LEN) fail(`${what} has the wrong wire type`);
}

function readValueInfo(r: ProtoReader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: "" };
  while (!r.done) {
    const { field, wire } = r.header();
    if (field === 1 && wire === WireType.LEN) v.name = r.string();
    else if (field === 2 && wire === WireType.LEN) readType(r.message(), v);
    else r.skip(wire);
  }
  return v;
}

/** TypeProto's fields other than tensor_type (1). */
const OTHER_TYPE_KINDS: Record<number, OnnxValueInfo["kind"]> = {
  4: "sequence",
  5: "map",
  7: "opaque",
  8: "sparse tensor",
  9: "optional",
};

function readType(r: ProtoReader, v: OnnxValueInfo): void {
  while (!r.done) {
    const { field, wire } = r.header();
    const other = OTHER_TYPE_KINDS[field];
    if (other && wire === WireType.LEN) {
      v.kind = other;
      r.skip(wire);
    } else if (field === 1 && wire === WireType.LEN) {
      v.kind = "tensor";
      const t = r.message();
      while (!t.done) {
        const h = t.header();
        if (h.field === 1 && h.wire === WireType.VARINT) v.elemType = t.int64();
        else if (h.field === 2 && h.wire === WireType.LEN) v.shape = readShape(t.message());
        else t.skip(h.wire);
      }
    } else r.skip(wire);
  }
}

function readShape(r: ProtoReader): (number | string | null)[] {
  const dims: (number | string | null)[] = [];
  while (!r.done) {
    const { field, wire } = r.header();
    if (field !== 1 || wire !== WireType.LEN) {
      r.skip(wire);
      continue;
    }
    const d = r.message();
    let dim: number | string | null = null;
    while (!d.done) {
      const h = d.header();
      if (h.field === 1 && h.wire === WireType.VARINT) dim = d.int64();
      else if (h.field === 2 && h.wire === WireType.LEN) dim = d.string();
      else d.skip(h.wire);
    }
    dims.push(dim);
  }
  return dims;
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

function readTensor(r: ProtoReader): { name: string; tensor: HostTensor } {
  const t: RawTensor = {
    dims: [],
    dataType: 0,
    name: "",
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    external: false,
    strings: false,
  };
  while (!r.done) {
    const { field, wire } = r.header();
    switch (field) {
      case 1:
        r.repeatedInt64(wire, t.dims);
        break;
      case 2:
        t.dataType = r.int64();
        break;
      case 4:
        r.repeatedFloat(wire, t.floatData);
        break;
      case 5:
        r.repeatedInt64(wire, t.int32Data);
        break;
      case 6:
        // failed in toHost, once the name (which may come later) is known
        t.strings = true;
        r.skip(wire);
        break;
      case 7:
        r.repeatedInt64(wire, t.int64Data);
        break;
      case 8:
        expectLen(wire, "TensorProto.name");
        t.name = r.string();
        break;
      case 9:
        expectLen(wire, "TensorProto.raw_data");
        t.raw = r.bytesField();
        break;
      case 10:
        r.repeatedDouble(wire, t.doubleData);
        break;
      case 11:
        r.repeatedUint64(wire, t.uint64Data);
        break;
      case 13:
        t.external = true;
        r.skip(wire);
        break;
      case 14:
        if (r.int64() === 1) t.external = true;
        break;
      default:
        r.skip(wire);
    }
  }
  return { name: t.name, tensor: toHost(t) };
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

function decodeRaw(raw: Uint8Array, dataType: number, n: number, out: Float32Array | Float64Array | Uint8Array): void {
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
