/**
 * The ONNX operators the importer supports, each as ONNX defines it (opsets 7–18), on the
 * internal layout (4-D tensors NHWC; see value.ts). An op is compiled once at load time — its
 * attributes checked, its constant weights converted — into a function of its input values.
 * Ops with a `host` implementation also run on host tensors: that is how constant folding and the
 * shape arithmetic of exports work.
 */
import { tf } from "../../tf";
import {
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  constantNodeValue,
  DataType,
  dataTypeName,
  hostDTypeFor,
  type OnnxNode,
} from "./onnxProto";
import { hostTensor, hostValues, isHost, sizeOf, type HostDType, type HostTensor } from "./hostTensor";
import * as H from "./hostOps";
import { channelContribution, makeConv2d, type AutoPad, type ConvGeometry, type Pads4, type Pair } from "./convolution";
import { averagePool, makeMaxPool, type PoolSpec } from "./pooling";
import { Dropout } from "./dropout";
import {
  alignForBroadcast,
  alignTo4,
  asOnnxTensor,
  asTensor,
  fromOnnxOrder,
  hostToTf,
  internalAxis,
  NCHW_TO_NHWC,
  normAxis,
  onnxShape,
  rankOf,
  type Value,
} from "./value";

export interface CompileContext {
  node: OnnxNode;
  /** Version of the default ONNX opset the model imports. */
  opset: number;
  /** The value of input `i` when it is known at load time (initializer or folded constant). */
  constant(i: number): HostTensor | undefined;
  /** Registers a tensor the model owns (kept out of tidy scopes, freed by dispose). */
  own<T extends tf.Tensor>(t: T): T;
}

export type OpRun = (inputs: (Value | undefined)[]) => Value[];
/** An op run that can also compute a single output channel (a convolution without groups). */
export interface RestrictableRun extends OpRun {
  restrict?: (channel: number) => OpRun;
  /** Linear in input 0 (no groups): the contribution of input channels S (NHWC), bias excluded. */
  partial?: (xS: tf.Tensor, channels: readonly number[]) => tf.Tensor;
}
export type HostRun = (inputs: (HostTensor | undefined)[], node: OnnxNode, opset: number) => HostTensor[];

export interface OpDef {
  host?: HostRun;
  compile(ctx: CompileContext): OpRun;
}

// ----- helpers -------------------------------------------------------------------------------

function fail(node: OnnxNode, message: string): never {
  throw new Error(`${node.opType} node "${node.name}": ${message}`);
}

function input(node: OnnxNode, inputs: (Value | undefined)[], i: number): Value {
  const v = inputs[i];
  if (v === undefined) fail(node, `input ${i} is missing`);
  return v;
}

function tensorInput(node: OnnxNode, inputs: (Value | undefined)[], i: number): tf.Tensor {
  return asTensor(input(node, inputs, i));
}

function tensor4(node: OnnxNode, inputs: (Value | undefined)[], i: number): tf.Tensor4D {
  const t = tensorInput(node, inputs, i);
  if (t.rank !== 4) fail(node, `expects a 4-D input (N,C,H,W), got shape [${onnxShape(t).join(",")}]`);
  return t as tf.Tensor4D;
}

/** An input that must be known without running the device (shape, axes, pads...). */
function hostInput(node: OnnxNode, inputs: (Value | undefined)[], i: number, what: string): HostTensor | undefined {
  const v = inputs[i];
  if (v === undefined) return undefined;
  if (!isHost(v)) fail(node, `${what} (input ${i}) must be a constant or computable from static shapes`);
  return v;
}

function floatDType(a: tf.Tensor, b: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (a.dtype === b.dtype) return [a, b];
  return [a.dtype === "float32" ? a : tf.cast(a, "float32"), b.dtype === "float32" ? b : tf.cast(b, "float32")];
}

function hostDTypeOf(to: number, node: OnnxNode): HostDType {
  return hostDTypeFor(to) ?? fail(node, `cannot cast to ${dataTypeName(to)}`);
}

function tfDType(d: HostDType): "float32" | "int32" | "bool" {
  return d === "float32" ? "float32" : d === "bool" ? "bool" : "int32";
}

/** Axes given as an attribute (older opsets) or as input `i` (newer). */
function axesOf(node: OnnxNode, inputs: (Value | undefined)[], i: number, fromInput: boolean): number[] | undefined {
  if (!fromInput) return attrInts(node, "axes");
  const h = hostInput(node, inputs, i, "axes");
  return h ? hostValues(h) : undefined;
}

// ----- elementwise ---------------------------------------------------------------------------

/** An elementwise op; `hostFn` also runs it on host tensors (the shape arithmetic of exports negates axes). */
function unary(fn: (x: tf.Tensor) => tf.Tensor, hostFn?: (x: number) => number): OpDef {
  return {
    ...(hostFn ? { host: (inputs, node) => [H.unary(inputs[0] ?? fail(node, "input 0 is missing"), hostFn)] } : {}),
    compile:
      ({ node }) =>
      (inputs) => [fn(tensorInput(node, inputs, 0))],
  };
}

/**
 * Before opset 7 a binary op broadcast only with `broadcast = 1`, and `axis` aligned the second
 * operand from that axis instead of from the end (numpy's rule, which later opsets use): refused.
 */
function checkLegacyBroadcast(node: OnnxNode, opset: number): void {
  if (opset < 7 && attrInt(node, "broadcast", 0) === 1 && attrInt(node, "axis") !== undefined)
    fail(node, "broadcasting from an axis (broadcast = 1 with axis, opset < 7) is not supported");
}

function binaryOp(
  tfFn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  hostFn: (a: HostTensor, b: HostTensor) => HostTensor,
): OpDef {
  return {
    host: (inputs, node, opset) => {
      checkLegacyBroadcast(node, opset);
      return [hostFn(inputs[0] ?? fail(node, "input 0 is missing"), inputs[1] ?? fail(node, "input 1 is missing"))];
    },
    compile: (ctx) => {
      const { node } = ctx;
      checkLegacyBroadcast(node, ctx.opset);
      // constants converted once, in both layouts a runtime operand may need
      const prepared = [0, 1].map((i) => {
        const c = ctx.constant(i);
        if (!c) return undefined;
        return { r4: c.dims.length <= 4 ? ctx.own(alignTo4(c)) : undefined, plain: ctx.own(asTensor(c)) };
      });
      return (inputs) => {
        const vals = [input(node, inputs, 0), input(node, inputs, 1)];
        const rank = Math.max(rankOf(vals[0]!), rankOf(vals[1]!));
        const [ta, tb] = floatDType(
          ...(vals.map((v, i) => {
            const p = prepared[i];
            if (p && isHost(v)) return rank === 4 ? p.r4! : p.plain;
            return rank === 4 ? alignTo4(v) : asTensor(v);
          }) as [tf.Tensor, tf.Tensor]),
        );
        return [tfFn(ta, tb)];
      };
    },
  };
}

function clipBounds(
  node: OnnxNode,
  opset: number,
  inputs: (Value | undefined)[],
): { min: Value | number; max: Value | number } {
  if (opset < 11) {
    return { min: attrFloat(node, "min", -3.4028234663852886e38), max: attrFloat(node, "max", 3.4028234663852886e38) };
  }
  const bound = (i: number, fallback: number): Value | number => {
    const v = inputs[i];
    if (v === undefined) return fallback;
    if (isHost(v)) return v.data[0]!;
    return v;
  };
  return { min: bound(1, -3.4028234663852886e38), max: bound(2, 3.4028234663852886e38) };
}

const Clip: OpDef = {
  compile:
    ({ node, opset }) =>
    (inputs) => {
      const x = tensorInput(node, inputs, 0);
      const { min, max } = clipBounds(node, opset, inputs);
      if (typeof min === "number" && typeof max === "number") return [tf.clipByValue(x, min, max)];
      let y = x;
      y =
        typeof min === "number"
          ? tf.maximum(y, min)
          : tf.maximum(...(alignForBroadcast([y, min]) as [tf.Tensor, tf.Tensor]));
      y =
        typeof max === "number"
          ? tf.minimum(y, max)
          : tf.minimum(...(alignForBroadcast([y, max]) as [tf.Tensor, tf.Tensor]));
      return [y];
    },
};

const HardSigmoid: OpDef = {
  compile: ({ node }) => {
    const alpha = attrFloat(node, "alpha", 0.2);
    const beta = attrFloat(node, "beta", 0.5);
    return (inputs) => [tf.clipByValue(tf.add(tf.mul(tensorInput(node, inputs, 0), alpha), beta), 0, 1)];
  },
};

const HardSwish: OpDef = {
  compile:
    ({ node }) =>
    (inputs) => {
      const x = tensorInput(node, inputs, 0);
      return [tf.mul(x, tf.clipByValue(tf.add(tf.mul(x, 1 / 6), 0.5), 0, 1))];
    },
};

const LeakyRelu: OpDef = {
  compile: ({ node }) => {
    const alpha = attrFloat(node, "alpha", 0.01);
    return (inputs) => [tf.leakyRelu(tensorInput(node, inputs, 0), alpha)];
  },
};

// ----- convolution and pooling ---------------------------------------------------------------

function geometry(node: OnnxNode, kernel: Pair): ConvGeometry {
  const two = (name: string, fallback: Pair): Pair => {
    const v = attrInts(node, name);
    if (!v || v.length === 0) return fallback;
    if (v.length !== 2) fail(node, `only 2-D is supported (${name} has ${v.length} values)`);
    return [v[0]!, v[1]!];
  };
  const ks = two("kernel_shape", kernel);
  const pads = attrInts(node, "pads");
  let p: Pads4 = [0, 0, 0, 0];
  if (pads && pads.length) {
    if (pads.length !== 4) fail(node, `only 2-D is supported (pads has ${pads.length} values)`);
    p = [pads[0]!, pads[1]!, pads[2]!, pads[3]!];
  }
  const autoPad = attrString(node, "auto_pad", "NOTSET") as AutoPad;
  if (!["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].includes(autoPad)) fail(node, `unknown auto_pad "${autoPad}"`);
  return { kernel: ks, strides: two("strides", [1, 1]), dilations: two("dilations", [1, 1]), pads: p, autoPad };
}

const Conv: OpDef = {
  compile: (ctx) => {
    const { node } = ctx;
    const w = ctx.constant(1);
    if (!w) fail(node, "the weight must be a constant (initializer)");
    if (w.dims.length !== 4) fail(node, `only 2-D convolution is supported (weight shape [${w.dims.join(",")}])`);
    if (w.dtype !== "float32") fail(node, "the weight must be floating point");
    const biasName = node.inputs[2];
    const bias = biasName ? ctx.constant(2) : undefined;
    if (biasName && !bias) fail(node, "the bias must be a constant (initializer)");
    const g = geometry(node, [w.dims[2]!, w.dims[3]!]);
    if (g.kernel[0] !== w.dims[2] || g.kernel[1] !== w.dims[3]) fail(node, "kernel_shape does not match the weight");
    const group = attrInt(node, "group", 1);
    // its gradient kernels, made on the first gradient (none where onnxruntime runs the gradients)
    const conv = makeConv2d(w, bias, group, g, (t) => void ctx.own(t));
    conv.weights.forEach((t) => ctx.own(t));
    const runWith =
      (c: ReturnType<typeof makeConv2d>): OpRun =>
      (inputs) => {
        const x = tensor4(node, inputs, 0);
        try {
          return [c.apply(x)];
        } catch (e) {
          return fail(node, (e as Error).message);
        }
      };
    const run: RestrictableRun = runWith(conv);
    if (group === 1) {
      // one output channel: that row of the weight (and bias), built on first use and kept
      const cache = new Map<number, OpRun>();
      const [cout, cin, kh, kw] = w.dims as [number, number, number, number];
      // the contribution of some input channels: the HWIO filter (built on first use) sliced on I
      let hwio: tf.Tensor4D | null = null;
      const hwioFilter = () => {
        if (!hwio) {
          const f = new Float32Array(kh * kw * cin * cout);
          const src = w.data as Float32Array;
          for (let o = 0; o < cout; o++)
            for (let c = 0; c < cin; c++)
              for (let i = 0; i < kh; i++)
                for (let j = 0; j < kw; j++)
                  f[((i * kw + j) * cin + c) * cout + o] = src[((o * cin + c) * kh + i) * kw + j]!;
          hwio = ctx.own(tf.keep(tf.tensor4d(f, [kh, kw, cin, cout])));
        }
        return hwio;
      };
      run.partial = channelContribution(hwioFilter, g, (t) => void ctx.own(t));
      run.restrict = (channel) => {
        let r = cache.get(channel);
        if (!r) {
          if (channel < 0 || channel >= cout) fail(node, `channel ${channel} out of range (${cout} outputs)`);
          const per = cin * kh * kw;
          const wc = hostTensor(
            "float32",
            [1, cin, kh, kw],
            (w.data as Float32Array).subarray(channel * per, (channel + 1) * per),
          );
          const bc = bias ? hostTensor("float32", [1], [(bias.data as Float32Array)[channel]!]) : undefined;
          const c = makeConv2d(wc, bc, 1, g, (t) => void ctx.own(t));
          c.weights.forEach((t) => ctx.own(t));
          r = runWith(c);
          cache.set(channel, r);
        }
        return r;
      };
    }
    return run;
  },
};

function poolSpec(node: OnnxNode, kind: "max" | "avg"): PoolSpec {
  const k = attrInts(node, "kernel_shape");
  if (!k || k.length !== 2) fail(node, `only 2-D pooling is supported (kernel_shape ${JSON.stringify(k ?? null)})`);
  const g = geometry(node, [k[0]!, k[1]!]);
  if (g.dilations[0] !== 1 || g.dilations[1] !== 1) fail(node, "dilated pooling is not supported");
  if (kind === "max" && attrInt(node, "storage_order", 0) !== 0) fail(node, "storage_order = 1 is not supported");
  if (kind === "max" && node.outputs[1]) fail(node, "the Indices output is not supported");
  return {
    ...g,
    ceilMode: attrInt(node, "ceil_mode", 0) === 1,
    countIncludePad: attrInt(node, "count_include_pad", 0) === 1,
  };
}

const MaxPool: OpDef = {
  compile: ({ node }) => {
    const pool = makeMaxPool(poolSpec(node, "max"));
    return (inputs) => [pool(tensor4(node, inputs, 0))];
  },
};

const AveragePool: OpDef = {
  compile: ({ node }) => {
    const spec = poolSpec(node, "avg");
    return (inputs) => [averagePool(tensor4(node, inputs, 0), spec)];
  },
};

function globalPool(reduce: (x: tf.Tensor, axes: number[]) => tf.Tensor): OpDef {
  return {
    compile:
      ({ node }) =>
      (inputs) => {
        const x = tensorInput(node, inputs, 0);
        if (x.rank === 4) return [reduce(x, [1, 2])];
        if (x.rank < 3) fail(node, `expects a rank >= 3 input, got [${x.shape.join(",")}]`);
        return [
          reduce(
            x,
            Array.from({ length: x.rank - 2 }, (_, i) => i + 2),
          ),
        ];
      },
  };
}

// ----- normalisation, dense layers -----------------------------------------------------------

const BatchNormalization: OpDef = {
  compile: (ctx) => {
    const { node } = ctx;
    if (attrInt(node, "training_mode", 0) === 1)
      fail(
        node,
        "BatchNormalization in training mode (training_mode = 1) is not supported: it uses the batch's statistics",
      );
    if (ctx.opset < 9 && attrInt(node, "spatial", 1) === 0)
      fail(node, "spatial = 0 (statistics per element, not per channel) is not supported");
    const params = [1, 2, 3, 4].map((i) => ctx.constant(i));
    if (params.some((p) => !p)) fail(node, "scale, bias, mean and variance must be constants (inference only)");
    if (node.outputs.slice(1).some((o) => o !== ""))
      fail(node, "training-mode outputs (running mean/var) are not supported");
    const [scale, bias, mean, variance] = params as HostTensor[];
    const eps = attrFloat(node, "epsilon", 1e-5);
    const c = scale!.data.length;
    const a = new Float32Array(c);
    const b = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      a[i] = scale!.data[i]! / Math.sqrt(variance!.data[i]! + eps);
      b[i] = bias!.data[i]! - mean!.data[i]! * a[i]!;
    }
    const cache = new Map<number, [tf.Tensor, tf.Tensor]>();
    const coeffs = (rank: number): [tf.Tensor, tf.Tensor] => {
      let r = cache.get(rank);
      if (!r) {
        // channels are the last internal axis for ranks 2 and 4; axis 1 otherwise
        const shape = rank === 4 || rank === 2 ? [c] : [c, ...Array<number>(Math.max(0, rank - 2)).fill(1)];
        r = [ctx.own(tf.tensor(a, shape)), ctx.own(tf.tensor(b, shape))];
        cache.set(rank, r);
      }
      return r;
    };
    coeffs(4);
    return (inputs) => {
      const x = tensorInput(node, inputs, 0);
      const [ta, tb] = coeffs(x.rank);
      return [tf.add(tf.mul(x, ta), tb)];
    };
  },
};

const Gemm: OpDef = {
  compile: (ctx) => {
    const { node } = ctx;
    const transA = attrInt(node, "transA", 0) === 1;
    const transB = attrInt(node, "transB", 0) === 1;
    const alpha = attrFloat(node, "alpha", 1);
    const beta = attrFloat(node, "beta", 1);
    const bConst = ctx.constant(1);
    const bPrepared = bConst
      ? ctx.own(tf.tidy(() => (transB ? tf.transpose(hostToTf(bConst)) : hostToTf(bConst))))
      : undefined;
    const cConst = node.inputs[2] ? ctx.constant(2) : undefined;
    const cPrepared = cConst ? ctx.own(tf.tidy(() => tf.mul(hostToTf(cConst), beta))) : undefined;
    return (inputs) => {
      let a = tensorInput(node, inputs, 0);
      if (a.rank !== 2) fail(node, `A must be 2-D, got [${a.shape.join(",")}]`);
      if (transA) a = tf.transpose(a);
      const b =
        bPrepared ??
        (transB ? tf.transpose(asOnnxTensor(input(node, inputs, 1))) : asOnnxTensor(input(node, inputs, 1)));
      let y = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
      if (alpha !== 1) y = tf.mul(y, alpha);
      if (cPrepared) y = tf.add(y, cPrepared);
      else if (inputs[2] !== undefined) y = tf.add(y, tf.mul(asOnnxTensor(inputs[2]), beta));
      return [y];
    };
  },
};

const MatMul: OpDef = {
  compile: (ctx) => {
    const { node } = ctx;
    const bConst = ctx.constant(1);
    const bPrepared = bConst ? ctx.own(hostToTf(bConst)) : undefined;
    return (inputs) => {
      let a = asOnnxTensor(input(node, inputs, 0));
      let b = bPrepared ?? asOnnxTensor(input(node, inputs, 1));
      [a, b] = floatDType(a, b);
      const aVec = a.rank === 1;
      const bVec = b.rank === 1;
      if (aVec) a = tf.expandDims(a, 0);
      if (bVec) b = tf.expandDims(b, 1);
      let y = tf.matMul(a, b);
      if (aVec) y = tf.squeeze(y, [y.rank - 2]);
      if (bVec) y = tf.squeeze(y, [y.rank - 1]);
      return [fromOnnxOrder(y)];
    };
  },
};

// ----- shape and layout ops ------------------------------------------------------------------

const Identity: OpDef = {
  host: (inputs, node) => [inputs[0] ?? fail(node, "input 0 is missing")],
  compile:
    ({ node }) =>
    (inputs) => [input(node, inputs, 0)],
};

const Constant: OpDef = {
  host: (_inputs, node) => [constantNodeValue(node)],
  compile: ({ node }) => {
    const v = constantNodeValue(node);
    return () => [v];
  },
};

function shapeHost(dims: readonly number[], node: OnnxNode): HostTensor {
  const r = dims.length;
  let start = attrInt(node, "start", 0);
  let end = attrInt(node, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = Math.min(Math.max(start, 0), r);
  end = Math.min(Math.max(end, 0), r);
  const d = dims.slice(start, Math.max(start, end));
  return hostTensor("int64", [d.length], d);
}

const Shape: OpDef = {
  host: (inputs, node) => [shapeHost((inputs[0] ?? fail(node, "input 0 is missing")).dims, node)],
  compile:
    ({ node }) =>
    (inputs) => [shapeHost(onnxShape(input(node, inputs, 0)), node)],
};

const Size: OpDef = {
  host: (inputs, node) => [hostTensor("int64", [], [sizeOf((inputs[0] ?? fail(node, "input 0 is missing")).dims)])],
  compile:
    ({ node }) =>
    (inputs) => [hostTensor("int64", [], [sizeOf(onnxShape(input(node, inputs, 0)))])],
};

/**
 * Cast's target type. Every float type is computed in float32, which is exact for casts to FLOAT and
 * DOUBLE; a cast to a 16-bit float rounds to fewer mantissa bits, which is not implemented: refused.
 */
function castTarget(node: OnnxNode): HostDType {
  const to = attrInt(node, "to", 1);
  if (to === DataType.FLOAT16 || to === DataType.BFLOAT16)
    fail(node, `Cast to ${dataTypeName(to)} is not supported (floats are computed in float32, not rounded to 16 bits)`);
  return hostDTypeOf(to, node);
}

const Cast: OpDef = {
  host: (inputs, node) => [H.cast(inputs[0] ?? fail(node, "input 0 is missing"), castTarget(node))],
  compile: ({ node }) => {
    const to = tfDType(castTarget(node));
    return (inputs) => {
      const x = tensorInput(node, inputs, 0);
      return [x.dtype === to ? x : tf.cast(x, to)];
    };
  },
};

/** Reshape-like ops in ONNX's order: to ONNX order, reshape, back to internal. */
function reshapeTo(x: Value, dims: number[]): Value {
  if (isHost(x)) return H.withDims(x, dims);
  const t = x;
  const same = t.rank === dims.length && onnxShape(t).every((d, i) => d === dims[i]);
  if (same) return t;
  // a 4-D tensor with 1×1 spatial extent (or 1 channel) has the same element order either way
  const [, h, w, c] = t.shape as [number, number, number, number];
  if (t.rank === 4 && (h * w === 1 || c === 1) && dims.length !== 4) return tf.reshape(t, dims);
  return fromOnnxOrder(tf.reshape(asOnnxTensor(t), dims));
}

const Reshape: OpDef = {
  host: (inputs, node) => {
    const x = inputs[0] ?? fail(node, "input 0 is missing");
    const s = inputs[1] ?? fail(node, "shape is missing");
    return [H.withDims(x, H.reshapeDims(x.dims, hostValues(s), attrInt(node, "allowzero", 0) === 1))];
  },
  compile:
    ({ node, opset }) =>
    (inputs) => {
      const x = input(node, inputs, 0);
      const shape =
        opset < 5
          ? attrInts(node, "shape")
          : hostValues(hostInput(node, inputs, 1, "shape") ?? fail(node, "shape is missing"));
      if (!shape) fail(node, "no shape");
      return [reshapeTo(x, H.reshapeDims(onnxShape(x), shape, attrInt(node, "allowzero", 0) === 1))];
    },
};

function flattenDims(dims: readonly number[], node: OnnxNode): number[] {
  const axis = normAxisInclusive(attrInt(node, "axis", 1), dims.length, node);
  return [sizeOf(dims.slice(0, axis)), sizeOf(dims.slice(axis))];
}

function normAxisInclusive(a: number, rank: number, node: OnnxNode): number {
  const r = a < 0 ? a + rank : a;
  if (r < 0 || r > rank) fail(node, `axis ${a} is out of range for rank ${rank}`);
  return r;
}

const Flatten: OpDef = {
  host: (inputs, node) => {
    const x = inputs[0] ?? fail(node, "input 0 is missing");
    return [H.withDims(x, flattenDims(x.dims, node))];
  },
  compile:
    ({ node }) =>
    (inputs) => {
      const x = input(node, inputs, 0);
      return [reshapeTo(x, flattenDims(onnxShape(x), node))];
    },
};

function unsqueezeAxes(node: OnnxNode, opset: number, inputs: (Value | undefined)[]): number[] {
  const axes = axesOf(node, inputs, 1, opset >= 13);
  if (!axes) fail(node, "no axes");
  return axes;
}

const Unsqueeze: OpDef = {
  host: (inputs, node, opset) => {
    const x = inputs[0] ?? fail(node, "input 0 is missing");
    return [H.withDims(x, H.unsqueezeDims(x.dims, unsqueezeAxes(node, opset, inputs)))];
  },
  compile:
    ({ node, opset }) =>
    (inputs) => {
      const x = input(node, inputs, 0);
      return [reshapeTo(x, H.unsqueezeDims(onnxShape(x), unsqueezeAxes(node, opset, inputs)))];
    },
};

const Squeeze: OpDef = {
  host: (inputs, node, opset) => {
    const x = inputs[0] ?? fail(node, "input 0 is missing");
    return [H.withDims(x, H.squeezeDims(x.dims, axesOf(node, inputs, 1, opset >= 13)))];
  },
  compile:
    ({ node, opset }) =>
    (inputs) => {
      const x = input(node, inputs, 0);
      return [reshapeTo(x, H.squeezeDims(onnxShape(x), axesOf(node, inputs, 1, opset >= 13)))];
    },
};

const Concat: OpDef = {
  host: (inputs, node) => [
    H.concat(
      inputs.filter((v): v is HostTensor => v !== undefined),
      attrInt(node, "axis") ?? fail(node, "no axis"),
    ),
  ],
  compile: ({ node }) => {
    const axisAttr = attrInt(node, "axis");
    if (axisAttr === undefined) fail(node, "no axis attribute");
    return (inputs) => {
      const vals = inputs.filter((v): v is Value => v !== undefined);
      const rank = rankOf(vals[0] ?? fail(node, "no inputs"));
      const axis = internalAxis(normAxis(axisAttr, rank, `Concat "${node.name}"`), rank);
      let ts = vals.map(asTensor);
      if (ts.some((t) => t.dtype === "float32"))
        ts = ts.map((t) => (t.dtype === "float32" ? t : tf.cast(t, "float32")));
      return [ts.length === 1 ? ts[0]! : tf.concat(ts, axis)];
    };
  },
};

const Transpose: OpDef = {
  host: (inputs, node) => {
    const x = inputs[0] ?? fail(node, "input 0 is missing");
    const perm = attrInts(node, "perm") ?? x.dims.map((_, i) => x.dims.length - 1 - i);
    return [H.transpose(x, perm)];
  },
  compile:
    ({ node }) =>
    (inputs) => {
      const x = asOnnxTensor(input(node, inputs, 0));
      const perm = attrInts(node, "perm") ?? x.shape.map((_, i) => x.rank - 1 - i);
      return [fromOnnxOrder(tf.transpose(x, perm))];
    },
};

function gatherIndices(node: OnnxNode, idx: HostTensor, n: number): tf.Tensor {
  const vals = Array.from(idx.data, (i) => {
    const j = i < 0 ? i + n : i;
    if (j < 0 || j >= n) fail(node, `index ${i} out of range for a dimension of ${n}`);
    return j;
  });
  return tf.tensor(Int32Array.from(vals), [...idx.dims], "int32");
}

const Gather: OpDef = {
  host: (inputs, node) => [
    H.gather(
      inputs[0] ?? fail(node, "input 0 is missing"),
      inputs[1] ?? fail(node, "indices missing"),
      attrInt(node, "axis", 0),
    ),
  ],
  compile:
    ({ node }) =>
    (inputs) => {
      const data = asOnnxTensor(input(node, inputs, 0));
      const axis = normAxis(attrInt(node, "axis", 0), data.rank, `Gather "${node.name}"`);
      const idx = input(node, inputs, 1);
      const indices = isHost(idx) ? gatherIndices(node, idx, data.shape[axis]!) : asOnnxTensor(idx);
      return [fromOnnxOrder(tf.gather(data, indices, axis))];
    },
};

function sliceArgs(
  node: OnnxNode,
  opset: number,
  inputs: (Value | undefined)[],
  dims: readonly number[],
): H.SliceRange[] {
  if (opset < 10) {
    const starts = attrInts(node, "starts") ?? fail(node, "no starts");
    const ends = attrInts(node, "ends") ?? fail(node, "no ends");
    return H.sliceRanges(dims, starts, ends, attrInts(node, "axes"), undefined);
  }
  const v = (i: number, what: string) => {
    const h = hostInput(node, inputs, i, what);
    return h ? hostValues(h) : undefined;
  };
  const starts = v(1, "starts") ?? fail(node, "no starts");
  const ends = v(2, "ends") ?? fail(node, "no ends");
  return H.sliceRanges(dims, starts, ends, v(3, "axes"), v(4, "steps"));
}

const Slice: OpDef = {
  host: (inputs, node, opset) => {
    const x = inputs[0] ?? fail(node, "input 0 is missing");
    return [H.slice(x, sliceArgs(node, opset, inputs, x.dims))];
  },
  compile:
    ({ node, opset }) =>
    (inputs) => {
      let x = asOnnxTensor(input(node, inputs, 0));
      const ranges = sliceArgs(node, opset, inputs, x.shape);
      const begin = x.shape.map(() => 0);
      const size = x.shape.map(() => -1);
      for (const r of ranges) {
        if (r.step === 1) {
          begin[r.axis] = r.start;
          size[r.axis] = r.count;
        }
      }
      x = tf.slice(x, begin, size);
      for (const r of ranges) {
        if (r.step === 1) continue;
        const idx = Array.from({ length: r.count }, (_, k) => r.start + k * r.step);
        x = tf.gather(x, tf.tensor1d(Int32Array.from(idx), "int32"), r.axis);
      }
      return [fromOnnxOrder(x)];
    },
};

const ConstantOfShape: OpDef = {
  host: (inputs, node) => {
    const shape = hostValues(inputs[0] ?? fail(node, "shape is missing"));
    const v = node.attributes.get("value")?.t;
    const dtype = v?.dtype ?? "float32";
    const fill = v ? v.data[0]! : 0;
    return [hostTensor(dtype, shape, new Float64Array(sizeOf(shape)).fill(fill))];
  },
  compile:
    ({ node }) =>
    (inputs) =>
      ConstantOfShape.host!([hostInput(node, inputs, 0, "shape")], node, 0),
};

/** Reflect padding from slices, reversals and concat (tfjs's mirrorPad gradient is wrong). */
function reflectPad(x: tf.Tensor, pads: [number, number][]): tf.Tensor {
  let t = x;
  pads.forEach(([b, e], axis) => {
    if (!b && !e) return;
    const n = t.shape[axis]!;
    if (b >= n || e >= n) throw new Error(`reflect padding ${Math.max(b, e)} needs a dimension larger than ${n}`);
    const part = (start: number, size: number) => {
      const begin = t.shape.map(() => 0);
      const sz = t.shape.map(() => -1);
      begin[axis] = start;
      sz[axis] = size;
      return tf.reverse(tf.slice(t, begin, sz), axis);
    };
    const pieces = [...(b ? [part(1, b)] : []), t, ...(e ? [part(n - 1 - e, e)] : [])];
    t = tf.concat(pieces, axis);
  });
  return t;
}

/** Edge padding: each border row/column repeated, by a gather of clamped indices (which has a gradient). */
function edgePad(x: tf.Tensor, pads: [number, number][]): tf.Tensor {
  let t = x;
  pads.forEach(([b, e], axis) => {
    if (!b && !e) return;
    const n = t.shape[axis]!;
    if (n === 0) throw new Error(`edge padding needs a non-empty dimension (axis ${axis} is empty)`);
    const idx = Array.from({ length: b + n + e }, (_, i) => Math.min(Math.max(i - b, 0), n - 1));
    t = tf.gather(t, tf.tensor1d(Int32Array.from(idx), "int32"), axis);
  });
  return t;
}

const Pad: OpDef = {
  compile: ({ node, opset }) => {
    const mode = attrString(node, "mode", "constant");
    if (mode !== "constant" && mode !== "reflect" && mode !== "edge")
      fail(node, `mode "${mode}" is not supported (constant, reflect and edge are)`);
    return (inputs) => {
      const x = input(node, inputs, 0);
      const rank = rankOf(x);
      let pads: number[];
      let value = 0;
      let axes: number[] = Array.from({ length: rank }, (_, i) => i);
      if (opset < 11) {
        pads = attrInts(node, "pads") ?? fail(node, "no pads");
        value = attrFloat(node, "value", 0);
      } else {
        pads = hostValues(hostInput(node, inputs, 1, "pads") ?? fail(node, "no pads"));
        const cv = hostInput(node, inputs, 2, "constant_value");
        if (cv && cv.data.length) value = cv.data[0]!;
        const ax = hostInput(node, inputs, 3, "axes");
        if (ax) axes = hostValues(ax).map((a) => normAxis(a, rank, `Pad "${node.name}"`));
      }
      if (pads.length !== 2 * axes.length) fail(node, `expects ${2 * axes.length} pads, got ${pads.length}`);
      // per ONNX axis [begin, end]
      const per: [number, number][] = Array.from({ length: rank }, () => [0, 0]);
      axes.forEach((a, i) => (per[a] = [pads[i]!, pads[i + axes.length]!]));
      let t = asTensor(x);
      const internal: [number, number][] = Array.from(
        { length: rank },
        (_, i) => per[rank === 4 ? [0, 2, 3, 1][i]! : i]!,
      );
      const positive = internal.map(([b, e]) => [Math.max(0, b), Math.max(0, e)] as [number, number]);
      if (positive.some(([b, e]) => b || e)) {
        t =
          mode === "reflect"
            ? reflectPad(t, positive)
            : mode === "edge"
              ? edgePad(t, positive)
              : tf.pad(t, positive, value);
      }
      if (internal.some(([b, e]) => b < 0 || e < 0)) {
        const begin = internal.map(([b]) => Math.max(0, -b));
        const size = internal.map(([b, e], i) => t.shape[i]! - Math.max(0, -b) - Math.max(0, -e));
        t = tf.slice(t, begin, size);
      }
      return [t];
    };
  },
};

function reduceOp(fn: (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor, axesInputFrom: number): OpDef {
  return {
    compile: ({ node, opset }) => {
      const keep = attrInt(node, "keepdims", 1) === 1;
      const noopEmpty = attrInt(node, "noop_with_empty_axes", 0) === 1;
      return (inputs) => {
        const x = input(node, inputs, 0);
        const rank = rankOf(x);
        let axes = axesOf(node, inputs, 1, opset >= axesInputFrom);
        if (!axes || axes.length === 0) {
          if (noopEmpty) return [asTensor(x)];
          axes = Array.from({ length: rank }, (_, i) => i);
        }
        const norm = axes.map((a) => normAxis(a, rank, `${node.opType} "${node.name}"`));
        if (keep || rank !== 4) {
          return [
            fn(
              asTensor(x),
              norm.map((a) => internalAxis(a, rank)),
              keep,
            ),
          ];
        }
        return [fromOnnxOrder(fn(asOnnxTensor(x), norm, false))];
      };
    },
  };
}

function softmaxOp(log: boolean): OpDef {
  return {
    compile: ({ node, opset }) => {
      const axisAttr = attrInt(node, "axis", opset >= 13 ? -1 : 1);
      // shifted by the maximum first: x − logSumExp(x) would round at the magnitude of x (an error
      // of 2.4e-4 on onnx's test_logsoftmax_large_number, inputs near 10⁴)
      const along = (t: tf.Tensor, axis: number) => {
        const shifted = tf.sub(t, tf.max(t, axis, true));
        const e = tf.exp(shifted);
        const sum = tf.sum(e, axis, true);
        return log ? tf.sub(shifted, tf.log(sum)) : tf.div(e, sum);
      };
      return (inputs) => {
        const x = input(node, inputs, 0);
        const rank = rankOf(x);
        if (opset >= 13) {
          const a = normAxis(axisAttr, rank, `${node.opType} "${node.name}"`);
          return [along(asTensor(x), internalAxis(a, rank))];
        }
        const dims = onnxShape(x);
        const a = normAxisInclusive(axisAttr, rank, node);
        const flat = tf.reshape(asOnnxTensor(x), [sizeOf(dims.slice(0, a)), sizeOf(dims.slice(a))]);
        return [fromOnnxOrder(tf.reshape(along(flat, 1), dims))];
      };
    },
  };
}

// ----- registry ------------------------------------------------------------------------------

const numeric = (fn: (x: number, y: number) => number) => (a: HostTensor, b: HostTensor) => H.binary(a, b, fn);

export const OPS: Readonly<Record<string, OpDef>> = {
  Conv,
  Relu: unary((x) => tf.relu(x)),
  LeakyRelu,
  Sigmoid: unary((x) => tf.sigmoid(x)),
  Tanh: unary((x) => tf.tanh(x)),
  Exp: unary((x) => tf.exp(x)),
  Log: unary((x) => tf.log(x)),
  Sqrt: unary((x) => tf.sqrt(x)),
  Neg: unary(
    (x) => tf.neg(x),
    (x) => -x,
  ),
  Abs: unary((x) => tf.abs(x), Math.abs),
  Reciprocal: unary((x) => tf.reciprocal(x)),
  Erf: unary((x) => tf.erf(x)),
  Softplus: unary((x) => tf.softplus(x)),
  Clip,
  HardSigmoid,
  HardSwish,
  Add: binaryOp(
    (a, b) => tf.add(a, b),
    numeric((x, y) => x + y),
  ),
  Sub: binaryOp(
    (a, b) => tf.sub(a, b),
    numeric((x, y) => x - y),
  ),
  Mul: binaryOp(
    (a, b) => tf.mul(a, b),
    numeric((x, y) => x * y),
  ),
  Div: binaryOp((a, b) => tf.div(a, b), H.divide),
  Pow: binaryOp(
    (a, b) => tf.pow(a, b),
    numeric((x, y) => x ** y),
  ),
  MaxPool,
  AveragePool,
  GlobalAveragePool: globalPool((x, axes) => tf.mean(x, axes, true)),
  GlobalMaxPool: globalPool((x, axes) => tf.max(x, axes, true)),
  BatchNormalization,
  Gemm,
  MatMul,
  Identity,
  Dropout,
  Constant,
  Shape,
  Size,
  Cast,
  Reshape,
  Flatten,
  Unsqueeze,
  Squeeze,
  Concat,
  Transpose,
  Gather,
  Slice,
  ConstantOfShape,
  Pad,
  ReduceMean: reduceOp((x, a, k) => tf.mean(x, a, k), 18),
  ReduceSum: reduceOp((x, a, k) => tf.sum(x, a, k), 13),
  ReduceMax: reduceOp((x, a, k) => tf.max(x, a, k), 18),
  ReduceMin: reduceOp((x, a, k) => tf.min(x, a, k), 18),
  Softmax: softmaxOp(false),
  LogSoftmax: softmaxOp(true),
};

/** Re-exported for tests: ONNX NCHW → internal permutation. */
export { NCHW_TO_NHWC };
