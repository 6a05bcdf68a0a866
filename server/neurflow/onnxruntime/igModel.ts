/**
 * Compiles the integrated gradients of one layer pair into an ONNX model that onnxruntime runs:
 *
 *   inputs   nf/x [P, H, W, C] (the lower maps, internal NHWC layout; [P, C] for a dense layer),
 *            nf/ch [1] (the target channel), nf/alpha [N], nf/w [2, N] (the quadrature rule's
 *            weights, then its embedded rule's weights on the same nodes, or zeros)
 *   outputs  nf/mean [P, C] (attribution averaged over positions), nf/total [P] (its sum),
 *            nf/mean2 [P, C] (the same under the second weights: an error estimate for free)
 *
 * The same work as integratedGradients.ts, in one model: the affine prefix of the slice (a block's
 * first convolution and batch normalisation, a downsample path, the target channel of a residual
 * input) runs once per patch and once at the zero baseline, the steps start from its frontier,
 * z(αx) = z(0) + α(z(x) − z(0)), the rest runs on all patch × node rows with its gradient written
 * as forward ops (gradients.ts), the weighted sum over the nodes goes back through the prefix once,
 * and only [P, C] comes back.
 */
import { intsAttr, numberAttr, OnnxGraphBuilder, stringAttr, tensorInts, type NodeProto } from "./onnxBuilder";
import { AFFINE_OPS as AFFINE } from "../model/onnx/importOnnx";
import { reduceMean, vjp, type VjpContext } from "./gradients";
import { CH, forwardList, UnsupportedSlice, X, type ForwardList, type SourceGraph } from "./sliceGraph";

export const IG_INPUTS = { x: "nf/x", ch: "nf/ch", alpha: "nf/alpha", w: "nf/w" } as const;
export const IG_OUTPUTS = { mean: "nf/mean", total: "nf/total", embedded: "nf/mean2" } as const;

/** The opset the compiled models use: the source's, from 13 (the ops' current forms) on. */
export function targetOpset(source: number): number {
  if (source < 11 || source > 21)
    throw new UnsupportedSlice(`ONNX opset ${source} (the onnxruntime path reads opsets 11 to 21)`);
  return Math.max(17, source);
}

interface Classified {
  list: ForwardList;
  live: Set<string>;
  /** Live tensors affine in X (X included). */
  affine: Set<string>;
  prefix: NodeProto[];
  rows: NodeProto[];
  statics: NodeProto[];
  frontier: string[];
}

/** Piecewise-linear ops through the origin: f(αx) = α f(x) for α > 0, with the same Jacobian along the ray. */
const HOMOGENEOUS = new Set(["Relu", "LeakyRelu", "MaxPool", "GlobalMaxPool"]);
/** Linear ops of their first input (no constant term). */
const LINEAR_FIRST = new Set([
  "Identity",
  "Dropout",
  "Reshape",
  "Flatten",
  "Squeeze",
  "Unsqueeze",
  "Transpose",
  "Gather",
  "AveragePool",
  "GlobalAveragePool",
  "ReduceMean",
  "Neg",
  "MatMul",
]);

/**
 * Whether node `n` keeps the ray through the origin: its output along α·x is α times its output at x
 * (X itself; ReLU and max pooling of such a tensor; convolutions without bias, sums, products with
 * constants, reshapes and average pools of such tensors). Then it belongs to the prefix even when
 * it is not affine, as its Jacobian is the same at every α > 0: a max pool or a ReLU right after the
 * lower layer (an inception block's pool branch, GoogLeNet's max pool between stages) runs once per
 * patch instead of once per node.
 */
function keepsRay(n: NodeProto, live: (t: string) => boolean, ray: Set<string>): boolean {
  const ins = n.input ?? [];
  const liveIns = ins.filter((i) => i !== "" && live(i));
  if (liveIns.length === 0 || !liveIns.every((i) => ray.has(i))) return false;
  const op = n.opType!;
  if (HOMOGENEOUS.has(op) || LINEAR_FIRST.has(op)) return ins[0] === liveIns[0] && liveIns.length === 1;
  if (op === "Conv" || op === "Gemm") return ins[0] === liveIns[0] && liveIns.length === 1 && !ins[2];
  if (op === "Add" || op === "Sub" || op === "Concat") return ins.every((i) => i === "" || live(i));
  if (op === "Mul") return liveIns.length === 1;
  if (op === "Div") return liveIns.length === 1 && ins[0] === liveIns[0];
  return false;
}

function classify(list: ForwardList): Classified {
  const live = new Set<string>([X]);
  const affine = new Set<string>([X]);
  const ray = new Set<string>([X]);
  const prefix: NodeProto[] = [];
  const rows: NodeProto[] = [];
  const statics: NodeProto[] = [];
  for (const n of list.nodes) {
    const ins = (n.input ?? []).filter((i) => i !== "");
    const liveIns = ins.filter((i) => live.has(i));
    if (liveIns.length === 0) {
      statics.push(n);
      continue;
    }
    for (const o of n.output ?? []) if (o) live.add(o);
    const kind = AFFINE[n.opType!];
    const allAffine = liveIns.every((i) => affine.has(i));
    const isAffine =
      kind !== undefined &&
      allAffine &&
      (kind === "joint" ||
        (kind === "first" ? liveIns.length === 1 && n.input![0] === liveIns[0] : liveIns.length === 1));
    const onRay = keepsRay(n, (t) => live.has(t), ray);
    if (isAffine || onRay) {
      prefix.push(n);
      for (const o of n.output ?? []) if (o) affine.add(o);
      if (onRay) for (const o of n.output ?? []) if (o) ray.add(o);
    } else rows.push(n);
  }
  const frontier = new Set<string>();
  for (const n of rows) for (const i of n.input ?? []) if (affine.has(i)) frontier.add(i);
  if (affine.has(list.output)) frontier.add(list.output);
  return { list, live, affine, prefix, rows, statics, frontier: [...frontier] };
}

/** A model of the forward list alone with every live tensor as an output: run once for the shapes. */
export function shapeProbeModel(
  g: SourceGraph,
  lower: string,
  upper: string,
  lowerRank: number,
): { bytes: Uint8Array; outputs: string[] } {
  const list = forwardList(g, lower, upper);
  const c = classify(list);
  const b = new OnnxGraphBuilder(g.initializers);
  for (const t of list.initializers) b.includeInitializer(t);
  b.input(
    X,
    "float32",
    Array.from({ length: lowerRank }, (_, i) => `d${i}`),
  );
  b.input(CH, "int64", [1]);
  for (const n of list.nodes) b.copy(n, n.input ?? [], n.output ?? []);
  const outputs = [...c.live].filter((t) => t !== X);
  for (const t of outputs) b.output(t, "float32");
  return { bytes: b.encode(targetOpset(g.opset)), outputs };
}

/**
 * The integrated-gradients model of the slice `lower → upper`. `shapes` holds the per-row shape
 * (no batch dimension, NCHW order) of every live tensor of the forward list, from the probe.
 */
export function compileIgModel(
  g: SourceGraph,
  lower: string,
  upper: string,
  shapes: ReadonlyMap<string, readonly number[]>,
): Uint8Array {
  return compile(g, lower, upper, shapes, { kind: "whole" }).bytes;
}

/** A row tensor handed from the shared forward model to the per-target model. */
export interface SharedTensor {
  /** Input name in the per-target model and output name in the forward model. */
  name: string;
  /** The tensor of the slice it carries (a max pool's output name + "/indices" for its argmax). */
  source: string;
  type: "float32" | "int64";
  /** Per-row shape (no batch dimension). */
  shape: number[];
}

/**
 * The integrated gradients of a layer pair split in two, so that the targets of the pair share the
 * forward work of their common top patches: `forward` runs, for any patches and nodes, the part of
 * the rows that does not depend on the target channel (in a bottleneck block: the 3×3 convolution
 * and the ReLUs around it); `perTarget` takes those tensors for its own patches' rows as inputs and
 * does the rest (the target channel's forward, the whole reverse pass), with the same results as
 * the whole model. Null when no row op is independent of the target channel (nothing to share).
 *
 *   forward    inputs nf/x [P, H, W, C], nf/alpha [N]; outputs the shared tensors [N·P, ...row]
 *   perTarget  the whole model's inputs and the shared tensors [N·P, ...row] (rows node-major)
 */
export function compileSharedIg(
  g: SourceGraph,
  lower: string,
  upper: string,
  shapes: ReadonlyMap<string, readonly number[]>,
  minFlopsPerValue = SHARE_MIN_FLOPS_PER_VALUE,
): { forward: Uint8Array; perTarget: Uint8Array; shared: SharedTensor[] } | null {
  const perTarget = compile(g, lower, upper, shapes, { kind: "perTarget" });
  if (perTarget.shared.length === 0) return null;
  // worth it only where the shared part computes much per value it hands over (a full convolution:
  // thousands of FLOPs per value; a ReLU or a depthwise convolution alone: none or a few dozen)
  const handed = perTarget.shared.reduce((a, t) => a + t.shape.reduce((x, d) => x * d, 1), 0);
  if (perTarget.sharedFlops < minFlopsPerValue * handed) return null;
  const forward = compile(g, lower, upper, shapes, { kind: "forward", outputs: perTarget.shared });
  return { forward: forward.bytes, perTarget: perTarget.bytes, shared: perTarget.shared };
}

/** Tensors of the list that depend on the target channel (CH, what is gathered with it, and so on). */
function channelDependent(list: ForwardList): Set<string> {
  const dep = new Set<string>([CH]);
  for (const n of list.nodes)
    if ((n.input ?? []).some((i) => dep.has(i))) for (const o of n.output ?? []) if (o) dep.add(o);
  return dep;
}

type Variant = { kind: "whole" } | { kind: "perTarget" } | { kind: "forward"; outputs: readonly SharedTensor[] };

const SHARED_PREFIX = "nf/shared/";

/** Least FLOPs of shared forward work per value handed to the per-target model for sharing to pay. */
export const SHARE_MIN_FLOPS_PER_VALUE = 256;

/** Multiply-add FLOPs of one row of a convolution or dense node (0 for other ops). */
function nodeFlops(
  n: NodeProto,
  shapeOf: (t: string) => readonly number[],
  constShape: (t: string) => readonly number[],
): number {
  const out = n.output?.[0];
  if (!out) return 0;
  const outSize = shapeOf(out).reduce((a, d) => a * d, 1);
  if (n.opType === "Conv") {
    const w = constShape(n.input![1]!);
    return 2 * w.slice(1).reduce((a, d) => a * d, 1) * outSize;
  }
  if (n.opType === "Gemm" || n.opType === "MatMul") {
    const x = shapeOf(n.input![0]!);
    return 2 * (x[x.length - 1] ?? 1) * outSize;
  }
  return 0;
}

function compile(
  g: SourceGraph,
  lower: string,
  upper: string,
  shapes: ReadonlyMap<string, readonly number[]>,
  variant: Variant,
): { bytes: Uint8Array; shared: SharedTensor[]; sharedFlops: number } {
  const opset = targetOpset(g.opset);
  const list = forwardList(g, lower, upper);
  const c = classify(list);
  const dep = variant.kind === "whole" ? new Set<string>() : channelDependent(list);
  /** Row nodes whose forward the targets share (computed by the forward model). */
  const sharedRows = new Set(
    variant.kind === "whole" ? [] : c.rows.filter((n) => !(n.output ?? []).some((o) => o && dep.has(o))),
  );
  const forwardOnly = variant.kind === "forward";
  const b = new OnnxGraphBuilder(g.initializers);
  for (const t of list.initializers) b.includeInitializer(t);
  const shapeOf = (t: string) => {
    const s = shapes.get(t);
    if (!s) throw new UnsupportedSlice(`no shape for tensor "${t}"`);
    return s;
  };
  const xShape = shapeOf(X);
  const rank = xShape.length + 1;
  if (rank !== 4 && rank !== 2) throw new UnsupportedSlice(`a lower layer of rank ${rank}`);
  const nhwc = rank === 4 ? [xShape[1]!, xShape[2]!, xShape[0]!] : [...xShape];
  b.input(IG_INPUTS.x, "float32", ["P", ...nhwc]);
  if (!forwardOnly) b.input(CH, "int64", [1]);
  b.input(IG_INPUTS.alpha, "float32", ["N"]);
  if (!forwardOnly) b.input(IG_INPUTS.w, "float32", [2, "N"]);
  const int64 = (v: number[]) => b.constant(v, [v.length], "int64");
  const xs = rank === 4 ? b.op1("Transpose", [IG_INPUTS.x], { perm: [0, 3, 1, 2] }) : IG_INPUTS.x;
  const zeros = b.op1("ConstantOfShape", [int64([1, ...xShape])]);
  const staticNames = new Set<string>();
  for (const n of c.statics) {
    if (forwardOnly && (n.output ?? []).some((o) => dep.has(o))) continue;
    b.copy(n, n.input ?? [], n.output ?? []);
    for (const o of n.output ?? []) staticNames.add(o);
  }
  const constShape = (t: string): readonly number[] => {
    const init = g.initializers.get(t);
    if (init) return (init.dims ?? []).map(Number);
    const n = c.statics.find((s) => s.output?.[0] === t);
    if (n?.opType === "Gather" && n.input?.[1] === CH) {
      const dims = [...constShape(n.input![0]!)];
      const axis = Number(n.attribute?.find((a) => a.name === "axis")?.i ?? 0);
      dims[axis] = 1;
      return dims;
    }
    if (t === CH) return [1];
    throw new UnsupportedSlice(`no shape for constant "${t}"`);
  };
  /** Outputs of the shared row nodes (inputs of the per-target model). */
  const sharedOut = new Set<string>();
  for (const n of sharedRows) for (const o of n.output ?? []) if (o) sharedOut.add(o);
  // a slice whose output does not depend on the target channel has nothing per target to split off
  if (sharedOut.has(list.output)) {
    sharedRows.clear();
    sharedOut.clear();
  }
  // instantiations: p (the patches), z (the zero baseline, one row), r (patch × node rows)
  const names = {
    p: new Map<string, string>([[X, xs]]),
    z: new Map<string, string>([[X, zeros]]),
    r: new Map<string, string>(),
  };
  type Inst = keyof typeof names;
  const valueIn =
    (inst: Inst) =>
    (t: string): string => {
      if (t === "") return "";
      if (!c.live.has(t)) return t;
      if (inst === "r" && variant.kind === "perTarget" && sharedOut.has(t))
        return sharedInput(t, "float32", shapeOf(t));
      const v = names[inst].get(t);
      if (!v) throw new UnsupportedSlice(`tensor "${t}" is not available in instantiation ${inst}`);
      return v;
    };
  const indicesOf = new Map<NodeProto, string>();
  /** Shared row tensors the per-target model reads (its extra inputs), by source name. */
  const sharedUsed = new Map<string, SharedTensor>();
  const sharedInput = (t: string, type: SharedTensor["type"], shape: readonly number[]): string => {
    let s = sharedUsed.get(t);
    if (!s) {
      s = { name: `${SHARED_PREFIX}${sharedUsed.size}`, source: t, type, shape: [...shape] };
      sharedUsed.set(t, s);
      b.input(s.name, type, ["R", ...shape]);
    }
    return s.name;
  };
  const emit = (n: NodeProto, inst: Inst) => {
    const value = valueIn(inst);
    const outs = (n.output ?? []).map((o) => {
      const name = `${o}@${inst}`;
      names[inst].set(o, name);
      return name;
    });
    if (n.opType === "MaxPool" && inst !== "z") {
      const idx = `${outs[0]}/indices`;
      indicesOf.set(n, idx);
      b.copy(n, (n.input ?? []).map(value), [outs[0]!, idx]);
      return;
    }
    if (inst === "r" && emitChannelConv(b, n, value, outs, constShape)) return;
    b.copy(n, (n.input ?? []).map(value), outs);
  };
  const inForward = (n: NodeProto) => !forwardOnly || !(n.output ?? []).some((o) => o && dep.has(o));
  for (const n of c.prefix) if (inForward(n)) emit(n, "p");
  for (const n of c.prefix) if (inForward(n)) emit(n, "z");
  // the frontier on the rows: z(0) + α (z(x) − z(0)), rows node-major (row = n·P + p)
  let nodeOnes: string | null = null;
  for (const t of c.frontier) {
    if (forwardOnly && dep.has(t)) continue;
    const s = shapeOf(t);
    const zp = names.p.get(t)!;
    if (t === X) {
      const a = b.op1("Reshape", [IG_INPUTS.alpha, int64([-1, ...Array(s.length + 1).fill(1)])]);
      const scaled = b.op1("Mul", [a, b.op1("Unsqueeze", [zp, int64([0])])]);
      names.r.set(t, b.op1("Reshape", [scaled, int64([-1, ...s])]));
      continue;
    }
    // [α_n, 1] × [z(x) − z(0); z(0)]: the rows in one pass that writes them ([N, 2] × [2, P·S])
    const z0 = names.z.get(t)!;
    nodeOnes ??= b.op1("Expand", [
      b.scalar(1),
      b.op1("Concat", [b.op1("Shape", [IG_INPUTS.alpha]), int64([1])], { axis: 0 }),
    ]);
    const coefficients = b.op1("Concat", [b.op1("Unsqueeze", [IG_INPUTS.alpha, int64([1])]), nodeOnes], { axis: 1 });
    const flat = (v: string) => b.op1("Reshape", [v, int64([1, -1])]);
    const ends = b.op1("Concat", [flat(b.op1("Sub", [zp, z0])), flat(b.op1("Expand", [z0, b.op1("Shape", [zp])]))], {
      axis: 0,
    });
    names.r.set(t, b.op1("Reshape", [b.op1("MatMul", [coefficients, ends]), int64([-1, ...s])]));
  }
  for (const n of c.rows) {
    if (variant.kind === "perTarget" && sharedRows.has(n)) {
      // its outputs come in as inputs; a max pool's argmax indices too
      if (n.opType === "MaxPool")
        indicesOf.set(n, sharedInput(`${n.output![0]}/indices`, "int64", shapeOf(n.output![0]!)));
      continue;
    }
    if (forwardOnly && !sharedRows.has(n)) continue;
    emit(n, "r");
  }
  if (variant.kind === "forward") {
    for (const t of variant.outputs) {
      const made = t.source.endsWith("/indices")
        ? `${names.r.get(t.source.slice(0, -"/indices".length))}/indices`
        : names.r.get(t.source);
      if (!made) throw new UnsupportedSlice(`shared tensor "${t.source}" is not computed by the forward model`);
      b.op("Identity", [made], {}, [t.name]);
      b.output(t.name, t.type, ["R", ...t.shape]);
    }
    return { bytes: b.encode(opset), shared: [], sharedFlops: 0 };
  }

  // reverse mode: rows, then the weighted sum over the nodes, then the prefix once
  const grads = new Map<string, string[]>();
  const addGrad = (key: string, g: string) => grads.set(key, [...(grads.get(key) ?? []), g]);
  const gradOf = (key: string): string | null => {
    const gs = grads.get(key);
    if (!gs || gs.length === 0) return null;
    return gs.length === 1 ? gs[0]! : b.op1("Sum", gs);
  };
  const ctxFor = (inst: Inst): VjpContext => ({
    b,
    opset,
    value: valueIn(inst),
    shape: shapeOf,
    constShape,
    isLive: (t) => c.live.has(t),
    constInts: (t) => {
      const init = g.initializers.get(t);
      return init ? tensorInts(init) : undefined;
    },
    handedIn: (t) => inst === "r" && sharedOut.has(t),
    indices: (n) => {
      const i = indicesOf.get(n);
      if (!i) throw new UnsupportedSlice("a MaxPool gradient without its indices");
      return i;
    },
  });
  const outRow = names.r.get(list.output)!;
  const outShape = shapeOf(list.output);
  const count = outShape.reduce((a, d) => a * d, 1);
  addGrad(`${list.output}@r`, b.op1("Expand", [b.scalar(1 / count), b.op1("Shape", [outRow])]));
  /** Reverse pass over `nodes` with the forward values of `inst`, gradients under `key`. */
  const backward = (nodes: NodeProto[], key: string, inst: Inst) => {
    const ctx = ctxFor(inst);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i]!;
      const dy = gradOf(`${n.output![0]}@${key}`);
      if (!dy) continue;
      const gs = vjp(n, dy, ctx);
      (n.input ?? []).forEach((t, k) => {
        const g = gs[k];
        if (g && c.live.has(t)) addGrad(`${t}@${key}`, g);
      });
    }
  };
  backward(c.rows, "r", "r");
  // both weightings m (the rule's, the embedded rule's) in one pass over the rows: Σ_n w_mn g_n
  // ([2, N] × [N, P·S]); then, per weighting, back through the prefix once on the patches' own rows
  const weighted = new Map<string, string>();
  for (const t of c.frontier) {
    const g = gradOf(`${t}@r`);
    if (!g) continue;
    const perNode = b.op1("Reshape", [
      g,
      b.op1("Concat", [b.op1("Shape", [IG_INPUTS.alpha]), int64([-1])], { axis: 0 }),
    ]);
    weighted.set(t, b.op1("MatMul", [IG_INPUTS.w, perNode]));
  }
  const attributions = [0, 1].map((m) => {
    for (const [t, both] of weighted) {
      const row = b.op1("Gather", [both, int64([m])], { axis: 0 });
      addGrad(`${t}@p${m}`, b.op1("Reshape", [row, int64([-1, ...shapeOf(t)])]));
    }
    backward(c.prefix, `p${m}`, "p");
    const gx = gradOf(`${X}@p${m}`) ?? b.op1("Mul", [xs, b.scalar(0)]);
    return b.op1("Mul", [gx, xs]);
  });
  const [attribution, second] = attributions as [string, string];
  const meanOf = (a: string, out: string) =>
    rank === 4
      ? b.op("Identity", [reduceMean({ b, opset } as VjpContext, a, [2, 3], 0)], {}, [out])
      : b.op("Identity", [a], {}, [out]);
  meanOf(attribution, IG_OUTPUTS.mean);
  meanOf(second, IG_OUTPUTS.embedded);
  b.op("ReduceSum", [attribution, int64(rank === 4 ? [1, 2, 3] : [1])], { keepdims: 0 }, [IG_OUTPUTS.total]);
  b.output(IG_OUTPUTS.mean, "float32", ["P", xShape[0]!]);
  b.output(IG_OUTPUTS.total, "float32", ["P"]);
  b.output(IG_OUTPUTS.embedded, "float32", ["P", xShape[0]!]);
  let sharedFlops = 0;
  for (const n of sharedRows) sharedFlops += nodeFlops(n, shapeOf, constShape);
  return { bytes: b.encode(opset), shared: [...sharedUsed.values()], sharedFlops };
}

/**
 * A convolution with one output channel — the target's, its weights gathered by the channel at run
 * time — as two convolutions whose weights onnxruntime can treat as usual: a 1×1 convolution to one
 * channel per kernel tap (K = kh·kw of them, its weights the gathered kernel rearranged), then the
 * source's geometry (strides, pads, dilations) over those K channels with a constant kernel that
 * picks tap k from channel k. The same products, summed in another order. onnxruntime's Conv with
 * weights computed at run time falls back to a slow path (an im2col buffer of kernel × channels
 * values per position and a one-row product); on the toy world's basic blocks this form takes
 * 1.6-3.5× less time per convolution (docs/engine.md, "the target channel's convolution"). False
 * (nothing emitted) where the node is not such a convolution or has a single tap.
 */
function emitChannelConv(
  b: OnnxGraphBuilder,
  n: NodeProto,
  value: (t: string) => string,
  outs: readonly string[],
  constShape: (t: string) => readonly number[],
): boolean {
  if (n.opType !== "Conv" || outs.length !== 1 || numberAttr(n, "group", 1) !== 1) return false;
  const autoPad = stringAttr(n, "auto_pad");
  if (autoPad && autoPad !== "NOTSET") return false;
  const ins = n.input ?? [];
  let w: readonly number[];
  try {
    w = constShape(ins[1]!);
  } catch {
    return false;
  }
  const channels = w[1] ?? 0;
  const kernel = w.slice(2);
  const taps = kernel.reduce((a, d) => a * d, 1);
  if (w.length !== 4 || w[0] !== 1 || taps < 2 || taps >= channels) return false;
  const int64 = (v: number[]) => b.constant(v, [v.length], "int64");
  // [1, C, kh, kw] → [C, K] → [K, C] → [K, C, 1, 1]
  const perTap = b.op1("Reshape", [
    b.op1("Transpose", [b.op1("Reshape", [value(ins[1]!), int64([channels, taps])])], { perm: [1, 0] }),
    int64([taps, channels, 1, 1]),
  ]);
  const tapMaps = b.op1("Conv", [value(ins[0]!), perTap], { kernel_shape: [1, 1] });
  const pick = Array.from({ length: taps * taps }, (_, i) => (Math.floor(i / taps) === i % taps ? 1 : 0));
  const attrs: Record<string, number[]> = { kernel_shape: kernel };
  for (const name of ["strides", "pads", "dilations"]) {
    const v = intsAttr(n, name);
    if (v) attrs[name] = v;
  }
  const inputs = [tapMaps, b.constant(pick, [1, taps, ...kernel])];
  if (ins[2]) inputs.push(value(ins[2]));
  b.op("Conv", inputs, attrs, [...outs]);
  return true;
}
