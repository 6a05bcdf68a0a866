/**
 * Reverse-mode gradients of ONNX nodes written as ONNX nodes (vector–Jacobian products), for the
 * integrated-gradients models that onnxruntime runs (igModel.ts). onnxruntime's inference builds
 * have no gradient ops, so each rule is expressed with forward ops: a convolution's input gradient
 * is a forward convolution with the flipped, transposed kernel where its stride is 1 (onnxruntime's
 * Conv is 2-3x faster than its ConvTranspose) and a transposed convolution otherwise, a ReLU's a select on its input's sign, a max
 * pool's a scatter-add of the output gradient to the argmax positions, batch normalisation's a
 * per-channel scale. Ops without a rule make the slice unsupported (the engine then runs it on
 * TensorFlow.js).
 */
import { numberAttr, intsAttr, stringAttr, type NodeProto, type OnnxGraphBuilder } from "./onnxBuilder";
import { UnsupportedSlice } from "./sliceGraph";

export interface VjpContext {
  b: OnnxGraphBuilder;
  opset: number;
  /** The name of a forward tensor of the list in this instantiation. */
  value(t: string): string;
  /** Per-row shape of a live tensor (no batch dimension). */
  shape(t: string): readonly number[];
  /** Full shape of a constant (initializer, or a channel gathered from one). */
  constShape(t: string): readonly number[];
  isLive(t: string): boolean;
  /** The indices output of a MaxPool node in this instantiation. */
  indices(node: NodeProto): string;
  /** The values of an int64 constant, if it is one. */
  constInts(t: string): number[] | undefined;
  /** Whether a forward value comes in from another model (then a rule prefers values computed here). */
  handedIn?(t: string): boolean;
}

/**
 * The kernel of a convolution's input gradient as a forward convolution: W [Cout, Cin/g, k…] with its
 * input and output channels swapped within each group and its spatial axes reversed, [Cin, Cout/g, k…].
 */
function flippedKernel(ctx: VjpContext, w: string, shape: readonly number[], group: number): string {
  const { b } = ctx;
  const [cout, cinPerGroup, ...k] = shape as [number, number, ...number[]];
  const int64 = (v: number[]) => b.constant(v, [v.length], "int64");
  const spatial = k.map((_, i) => i + 2);
  let t: string;
  if (group === 1) t = b.op1("Transpose", [w], { perm: [1, 0, ...spatial] });
  else {
    const grouped = b.op1("Reshape", [w, int64([group, cout / group, cinPerGroup, ...k])]);
    const swapped = b.op1("Transpose", [grouped], { perm: [0, 2, 1, ...k.map((_, i) => i + 3)] });
    t = b.op1("Reshape", [swapped, int64([group * cinPerGroup, cout / group, ...k])]);
  }
  return b.op1("Slice", [
    t,
    int64(k.map(() => -1)),
    int64(k.map(() => Number.MIN_SAFE_INTEGER)),
    int64(spatial),
    int64(k.map(() => -1)),
  ]);
}

/** ONNX's element type FLOAT, for Cast. */
const FLOAT = 1;

function numbersOf(node: NodeProto, name: string): number[] | undefined {
  return intsAttr(node, name);
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** `g` (shaped like `out`) summed back to the per-row shape `shapeIn` of a broadcast input. */
function unbroadcast(ctx: VjpContext, g: string, shapeIn: readonly number[], shapeOut: readonly number[]): string {
  if (sameShape(shapeIn, shapeOut)) return g;
  if (shapeIn.length !== shapeOut.length)
    throw new UnsupportedSlice("a broadcast between live tensors of different ranks");
  const axes = shapeOut.flatMap((d, i) => (shapeIn[i] === 1 && d !== 1 ? [i + 1] : []));
  if (shapeIn.some((d, i) => d !== 1 && d !== shapeOut[i])) throw new UnsupportedSlice("an unexpected broadcast");
  return ctx.b.op1("ReduceSum", [g, ctx.b.constant(axes, [axes.length], "int64")], { keepdims: 1 });
}

function reduceMeanAttrs(ctx: VjpContext, data: string, axes: number[], keepdims: number): string {
  if (ctx.opset >= 18)
    return ctx.b.op1("ReduceMean", [data, ctx.b.constant(axes, [axes.length], "int64")], { keepdims });
  return ctx.b.op1("ReduceMean", [data], { axes, keepdims });
}

export { reduceMeanAttrs as reduceMean };

/**
 * [1, ...per-row shape of t]: what a row's gradient broadcasts to. Rules use static per-row shapes,
 * never the forward value's runtime shape, so that the prefix's backward can run on more rows than
 * its forward (one set per weight vector).
 */
function rowShape(ctx: VjpContext, t: string): string {
  const s = ctx.shape(t);
  return ctx.b.constant([1, ...s], [s.length + 1], "int64");
}

/** Per-channel broadcast shape for a [C] vector against a per-row shape of rank r (channel first). */
function channelShape(c: number, rank: number): number[] {
  return [c, ...Array(Math.max(0, rank - 1)).fill(1)];
}

/**
 * Gradients of the node's inputs (null where an input is constant or gets none) from the gradient
 * `dy` of its first output.
 */
export function vjp(node: NodeProto, dy: string, ctx: VjpContext): (string | null)[] {
  const { b } = ctx;
  const ins = node.input ?? [];
  const x = ins[0] ?? "";
  const live = ins.map((i) => i !== "" && ctx.isLive(i));
  const none = ins.map(() => null as string | null);
  const only0 = (g: string) => ins.map((_, i) => (i === 0 ? g : null));
  const zero = b.scalar(0);
  const out = node.output![0]!;
  switch (node.opType) {
    case "Relu": {
      // dy times the mask as a float (onnxruntime's Where runs slower than Greater, Cast and Mul
      // together); y > 0 exactly where x > 0, so the mask is read from whichever is at hand
      const from = ctx.handedIn?.(x) ? out : x;
      return only0(b.op1("Mul", [dy, b.op1("Cast", [b.op1("Greater", [ctx.value(from), zero])], { to: FLOAT })]));
    }
    case "LeakyRelu": {
      const alpha = b.scalar(numberAttr(node, "alpha", 0.01));
      return only0(b.op1("Where", [b.op1("Greater", [ctx.value(x), zero]), dy, b.op1("Mul", [dy, alpha])]));
    }
    case "Clip": {
      let mask: string | null = null;
      if (ins[1]) mask = b.op1("Greater", [ctx.value(x), ctx.value(ins[1])]);
      if (ins[2]) {
        const upper = b.op1("Less", [ctx.value(x), ctx.value(ins[2])]);
        mask = mask ? b.op1("And", [mask, upper]) : upper;
      }
      return only0(mask ? b.op1("Mul", [dy, b.op1("Cast", [mask], { to: FLOAT })]) : dy);
    }
    case "Sigmoid": {
      const y = ctx.value(out);
      return only0(b.op1("Mul", [dy, b.op1("Mul", [y, b.op1("Sub", [b.scalar(1), y])])]));
    }
    case "Tanh": {
      const y = ctx.value(out);
      return only0(b.op1("Mul", [dy, b.op1("Sub", [b.scalar(1), b.op1("Mul", [y, y])])]));
    }
    case "Identity":
    case "Dropout":
      return only0(dy);
    case "Neg":
      return only0(b.op1("Neg", [dy]));
    case "Abs":
      return only0(b.op1("Mul", [dy, b.op1("Sign", [ctx.value(x)])]));
    case "Add":
    case "Sub": {
      const so = ctx.shape(out);
      return ins.map((t, i) => {
        if (!live[i]) return null;
        const g = unbroadcast(ctx, dy, ctx.shape(t), so);
        return node.opType === "Sub" && i === 1 ? b.op1("Neg", [g]) : g;
      });
    }
    case "Mul": {
      const so = ctx.shape(out);
      return ins.map((t, i) => {
        if (!live[i]) return null;
        const other = ctx.value(ins[1 - i]!);
        return unbroadcast(ctx, b.op1("Mul", [dy, other]), ctx.shape(t), so);
      });
    }
    case "Div": {
      if (live[1]) throw new UnsupportedSlice("a division by a live tensor");
      return only0(unbroadcast(ctx, b.op1("Div", [dy, ctx.value(ins[1]!)]), ctx.shape(x), ctx.shape(out)));
    }
    case "BatchNormalization": {
      if (live.slice(1).some(Boolean)) throw new UnsupportedSlice("batch normalisation with live statistics");
      const eps = b.scalar(numberAttr(node, "epsilon", 1e-5));
      const scale = b.op1("Div", [ctx.value(ins[1]!), b.op1("Sqrt", [b.op1("Add", [ctx.value(ins[4]!), eps])])]);
      const shape = ctx.shape(x);
      const c = shape[0]!;
      const s = b.op1("Reshape", [scale, b.constant(channelShape(c, shape.length), [shape.length], "int64")]);
      return only0(b.op1("Mul", [dy, s]));
    }
    case "Conv": {
      if (live.slice(1).some(Boolean)) throw new UnsupportedSlice("a convolution with live weights");
      const autoPad = stringAttr(node, "auto_pad");
      if (autoPad && autoPad !== "NOTSET") throw new UnsupportedSlice(`Conv with auto_pad ${autoPad}`);
      const w = ctx.constShape(ins[1]!);
      const k = w.slice(2);
      const xs = ctx.shape(x).slice(1);
      const ys = ctx.shape(out).slice(1);
      const n = k.length;
      const strides = intsAttr(node, "strides") ?? Array(n).fill(1);
      const dil = intsAttr(node, "dilations") ?? Array(n).fill(1);
      const pads = intsAttr(node, "pads") ?? Array(2 * n).fill(0);
      const group = numberAttr(node, "group", 1);
      const outPad = xs.map(
        (xi, i) => xi - ((ys[i]! - 1) * strides[i]! - pads[i]! - pads[i + n]! + dil[i]! * (k[i]! - 1) + 1),
      );
      if (outPad.some((p, i) => p < 0 || p >= Math.max(strides[i]!, dil[i]!)))
        throw new UnsupportedSlice("a convolution whose input size its transpose cannot give");
      // stride 1: the input gradient is a forward convolution of dy with the flipped, transposed
      // kernel (onnxruntime's Conv runs 2-3x faster than its ConvTranspose; docs/engine.md)
      const flippedPads = pads.map((p, j) => dil[j % n]! * (k[j % n]! - 1) - p);
      if (strides.every((s) => s === 1) && flippedPads.every((p) => p >= 0))
        return only0(
          b.op1("Conv", [dy, flippedKernel(ctx, ctx.value(ins[1]!), w, group)], {
            dilations: dil,
            pads: flippedPads,
            group,
            kernel_shape: k,
          }),
        );
      return only0(
        b.op1("ConvTranspose", [dy, ctx.value(ins[1]!)], {
          strides,
          dilations: dil,
          pads,
          group,
          kernel_shape: k,
          output_padding: outPad,
        }),
      );
    }
    case "Gemm": {
      if (numberAttr(node, "transA", 0) !== 0 || live.slice(1).some(Boolean))
        throw new UnsupportedSlice("Gemm other than x·W (+ c)");
      const alpha = numberAttr(node, "alpha", 1);
      const w = ctx.value(ins[1]!);
      let g = numberAttr(node, "transB", 0) ? b.op1("MatMul", [dy, w]) : b.op1("Gemm", [dy, w], { transB: 1 });
      if (alpha !== 1) g = b.op1("Mul", [g, b.scalar(alpha)]);
      return only0(g);
    }
    case "MatMul": {
      if (live[1] || ctx.constShape(ins[1]!).length !== 2)
        throw new UnsupportedSlice("MatMul other than x·W with a 2-D W");
      return only0(b.op1("MatMul", [dy, b.op1("Transpose", [ctx.value(ins[1]!)], { perm: [1, 0] })]));
    }
    case "Flatten":
    case "Reshape":
    case "Squeeze":
    case "Unsqueeze":
      return only0(b.op1("Reshape", [dy, b.constant([-1, ...ctx.shape(x)], [ctx.shape(x).length + 1], "int64")]));
    case "Transpose": {
      const perm = intsAttr(node, "perm");
      if (!perm) throw new UnsupportedSlice("Transpose without perm");
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return only0(b.op1("Transpose", [dy], { perm: inverse }));
    }
    case "GlobalAveragePool": {
      const area = ctx
        .shape(x)
        .slice(1)
        .reduce((a, d) => a * d, 1);
      return only0(b.op1("Expand", [b.op1("Mul", [dy, b.scalar(1 / area)]), rowShape(ctx, x)]));
    }
    case "ReduceMean": {
      const rank = ctx.shape(x).length + 1;
      const axes = (intsAttr(node, "axes") ?? []).map((a) => (a < 0 ? a + rank : a));
      if (axes.length === 0 || axes.includes(0) || ctx.opset >= 18)
        throw new UnsupportedSlice("ReduceMean other than over given non-batch axes");
      const count = axes.reduce((a, ax) => a * ctx.shape(x)[ax - 1]!, 1);
      let g = b.op1("Mul", [dy, b.scalar(1 / count)]);
      if (numberAttr(node, "keepdims", 1) === 0) g = b.op1("Unsqueeze", [g, b.constant(axes, [axes.length], "int64")]);
      return only0(b.op1("Expand", [g, rowShape(ctx, x)]));
    }
    case "MaxPool": {
      const xv = ctx.value(x);
      const flat = b.op1("Reshape", [xv, b.constant([-1], [1], "int64")]);
      const zeros = b.op1("ConstantOfShape", [b.op1("Shape", [flat])]);
      const idx = b.op1("Reshape", [ctx.indices(node), b.constant([-1], [1], "int64")]);
      const upd = b.op1("Reshape", [dy, b.constant([-1], [1], "int64")]);
      const scattered = b.op1("ScatterElements", [zeros, idx, upd], { axis: 0, reduction: "add" });
      return only0(
        b.op1("Reshape", [scattered, b.constant([-1, ...ctx.shape(x)], [ctx.shape(x).length + 1], "int64")]),
      );
    }
    case "AveragePool": {
      const k = intsAttr(node, "kernel_shape")!;
      const n = k.length;
      const pads = intsAttr(node, "pads") ?? Array(2 * n).fill(0);
      if (
        numberAttr(node, "ceil_mode", 0) ||
        (pads.some((p) => p !== 0) && !numberAttr(node, "count_include_pad", 0))
      ) {
        throw new UnsupportedSlice("AveragePool with ceil_mode or padding not counted");
      }
      const strides = intsAttr(node, "strides") ?? Array(n).fill(1);
      const shape = ctx.shape(x);
      const c = shape[0]!;
      const area = k.reduce((a, d) => a * d, 1);
      const w = b.constant(Array(c * area).fill(1 / area), [c, 1, ...k]);
      const xs = shape.slice(1);
      const ys = ctx.shape(out).slice(1);
      const outPad = xs.map((xi, i) => xi - ((ys[i]! - 1) * strides[i]! - pads[i]! - pads[i + n]! + k[i]!));
      if (outPad.some((p, i) => p < 0 || p >= strides[i]!))
        throw new UnsupportedSlice("an average pool whose input size its transpose cannot give");
      return only0(
        b.op1("ConvTranspose", [dy, w], { strides, pads, group: c, kernel_shape: k, output_padding: outPad }),
      );
    }
    case "Pad": {
      const mode = stringAttr(node, "mode") ?? "constant";
      const pads = ctx.constInts(ins[1] ?? "") ?? numbersOf(node, "pads");
      const rank = ctx.shape(x).length + 1;
      if (
        mode !== "constant" ||
        !pads ||
        pads.length !== 2 * rank ||
        pads[0] !== 0 ||
        pads[rank] !== 0 ||
        pads.some((p) => p < 0)
      ) {
        throw new UnsupportedSlice("Pad other than non-negative constant padding of the non-batch axes");
      }
      const dims = ctx.shape(x);
      const axes = dims.map((_, i) => i + 1);
      const starts = axes.map((a) => pads[a]!);
      const ends = axes.map((a, i) => pads[a]! + dims[i]!);
      return only0(
        b.op1("Slice", [
          dy,
          b.constant(starts, [starts.length], "int64"),
          b.constant(ends, [ends.length], "int64"),
          b.constant(axes, [axes.length], "int64"),
        ]),
      );
    }
    case "Concat": {
      const rank = ctx.shape(out).length + 1;
      const axis = (() => {
        const a = numberAttr(node, "axis", 1);
        return a < 0 ? a + rank : a;
      })();
      if (axis === 0) throw new UnsupportedSlice("Concat along the batch");
      const sizes = ins.map((t) => (ctx.isLive(t) ? ctx.shape(t)[axis - 1]! : ctx.constShape(t)[axis]!));
      const parts = b.op("Split", [dy, b.constant(sizes, [sizes.length], "int64")], { axis }, sizes.length);
      return ins.map((_, i) => (live[i] ? parts[i]! : null));
    }
    case "Gather": {
      if (live[1]) throw new UnsupportedSlice("Gather with live indices");
      const shape = ctx.shape(x);
      const rank = shape.length + 1;
      let axis = numberAttr(node, "axis", 0);
      if (axis < 0) axis += rank;
      if (axis === 0) throw new UnsupportedSlice("Gather along the batch");
      const n = shape[axis - 1]!;
      const idxShape = ctx.constShape(ins[1]!);
      if (idxShape.length !== 1 || idxShape[0] !== 1) throw new UnsupportedSlice("Gather of more than one index");
      const range = b.op1("Range", [
        b.constant([0], [], "int64"),
        b.constant([n], [], "int64"),
        b.constant([1], [], "int64"),
      ]);
      const hot = b.op1("Cast", [b.op1("Equal", [range, ctx.value(ins[1]!)])], { to: 1 });
      const tail = rank - 1 - axis;
      const shaped = b.op1("Reshape", [hot, b.constant([n, ...Array(tail).fill(1)], [1 + tail], "int64")]);
      return only0(b.op1("Mul", [dy, shaped]));
    }
    default:
      if (!live.some(Boolean)) return none;
      throw new UnsupportedSlice(`no gradient for ONNX op ${node.opType}`);
  }
}
