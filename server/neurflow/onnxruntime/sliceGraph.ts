/**
 * The slice of an ONNX model between two of its tensors, as a list of ONNX nodes ("the forward
 * list") that computes one channel of the upper tensor from the lower one, ready to be
 * differentiated (gradients.ts) and compiled for onnxruntime (igModel.ts).
 *
 * Only the target channel is computed where the graph allows (the same idea as
 * model/channelSlice.ts): channel-wise ops keep one channel, a convolution, batch normalisation or
 * dense layer that makes the upper tensor computes only that output channel (its weights gathered
 * at run time from the channel input `nf/ch`), and the other inputs of a residual addition are read
 * at that channel alone. The channel is an input of the compiled model, so one model serves every
 * target of a layer pair.
 */
import type { NodeProto, TensorProto } from "./onnxBuilder";
import { int64Tensor, numberAttr } from "./onnxBuilder";

/** The fed lower tensor and the channel index inside the forward list. */
export const X = "nf/x";
export const CH = "nf/ch";

export class UnsupportedSlice extends Error {}

export interface SourceGraph {
  /** Nodes in the file's order. */
  nodes: readonly NodeProto[];
  initializers: ReadonlyMap<string, TensorProto>;
  producer: ReadonlyMap<string, number>;
  /** Constants made by Constant nodes (treated as initializers). */
  opset: number;
}

export function sourceGraph(
  source: readonly NodeProto[],
  initializers: readonly TensorProto[],
  opset: number,
): SourceGraph {
  const init = new Map<string, TensorProto>();
  for (const t of initializers) init.set(t.name!, t);
  const nodes = opset < 13 ? source.map((n, i) => upgradeNode(n, init, i)) : source;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.opType === "Constant" && n.output?.[0]) {
      const a = n.attribute?.find((x) => x.name === "value");
      if (a?.t) {
        init.set(n.output[0], { ...a.t, name: n.output[0] });
        return;
      }
    }
    for (const o of n.output ?? []) if (o) producer.set(o, i);
  });
  return { nodes, initializers: init, producer, opset };
}

export interface ForwardList {
  /** Nodes over X, CH and initializers, in topological order. */
  nodes: NodeProto[];
  /** The computed channel of the upper tensor: [R, 1, H, W] or [R, 1]. */
  output: string;
  /** Initializers the nodes read (names of the source graph). */
  initializers: Set<string>;
}

const UNARY_CHANNELWISE = new Set([
  "Relu",
  "LeakyRelu",
  "Sigmoid",
  "Tanh",
  "Clip",
  "HardSigmoid",
  "HardSwish",
  "Identity",
  "Dropout",
  "Elu",
  "Softplus",
  "Neg",
  "Abs",
]);
const POOLS = new Set(["MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"]);
const BINARY = new Set(["Add", "Sub", "Mul", "Div"]);
/** Ops whose output carries no gradient (shapes, indices, comparisons). */
const NOT_DIFFERENTIABLE = new Set([
  "Shape",
  "Size",
  "ArgMax",
  "ArgMin",
  "NonZero",
  "Equal",
  "Greater",
  "Less",
  "Not",
  "Cast",
  "TopK",
]);

/**
 * The forward list of the slice `lower → upper`, computing channel `nf/ch` of `upper`. Throws
 * UnsupportedSlice where the slice reads anything but `lower` and constants.
 */
export function forwardList(g: SourceGraph, lower: string, upper: string): ForwardList {
  const nodes: NodeProto[] = [];
  const inits = new Set<string>();
  const live = new Map<string, boolean>();
  let counter = 0;
  const fresh = (hint: string) => `nf/f/${hint}/${counter++}`;
  const isConst = (t: string) => t === "" || g.initializers.has(t);
  const isLive = (t: string): boolean => {
    if (t === lower) return true;
    if (isConst(t)) return false;
    const cached = live.get(t);
    if (cached !== undefined) return cached;
    const p = g.producer.get(t);
    if (p === undefined)
      throw new UnsupportedSlice(
        `the slice reads tensor "${t}", which comes neither from "${lower}" nor from constants`,
      );
    live.set(t, false);
    const v = (g.nodes[p]!.input ?? []).some((i) => i !== "" && isLive(i));
    live.set(t, v);
    return v;
  };
  const emit = (
    opType: string,
    input: string[],
    attribute: NodeProto["attribute"] = [],
    output = [fresh(opType)],
  ): string => {
    nodes.push({ opType, input, output, attribute, name: output[0] });
    return output[0]!;
  };
  const constName = (t: string) => {
    if (t !== "") inits.add(t);
    return t;
  };
  const fullDone = new Map<string, string>();
  /** The whole tensor `t`, by copies of the source nodes. */
  const full = (t: string): string => {
    if (t === lower) return X;
    if (isConst(t)) return constName(t);
    const done = fullDone.get(t);
    if (done) return done;
    const p = g.producer.get(t);
    if (p === undefined)
      throw new UnsupportedSlice(
        `the slice reads tensor "${t}", which comes neither from "${lower}" nor from constants`,
      );
    const n = g.nodes[p]!;
    if (!isLive(t)) {
      // a constant subgraph: copied as it is
      const ins = (n.input ?? []).map((i) => (i === "" ? "" : full(i)));
      nodes.push({ ...n, input: ins });
      for (const o of n.output ?? []) if (o) fullDone.set(o, o);
      return t;
    }
    if (NOT_DIFFERENTIABLE.has(n.opType!))
      throw new UnsupportedSlice(`${n.opType} of a tensor the slice computes (node "${n.name}")`);
    const ins = (n.input ?? []).map((i) => (i === "" ? "" : full(i)));
    // a Dropout's mask (and any second output of a live op) is not part of the slice
    const outs = n.opType === "Dropout" || n.opType === "MaxPool" ? [n.output![0]!] : [...(n.output ?? [])];
    if (!outs.includes(t)) throw new UnsupportedSlice(`the slice reads output "${t}" of ${n.opType} node "${n.name}"`);
    nodes.push({ ...n, input: ins, output: outs });
    for (const o of outs) fullDone.set(o, o);
    return t;
  };
  const gather = (t: string, axis: number) => emit("Gather", [t, CH], [{ name: "axis", type: 2, i: axis }]);
  /** A constant read by a channel-wise op whose output has rank `rank`: reduced to the channel where it varies along it. */
  const constChannel = (t: string, rank: number): string => {
    if (t === "") return "";
    const dims = (g.initializers.get(t)?.dims ?? []).map(Number);
    const axis = dims.length - (rank - 1);
    if (axis < 0 || (dims[axis] ?? 1) === 1) return constName(t);
    return gather(constName(t), axis);
  };
  const chanDone = new Map<string, string>();
  /** Channel `nf/ch` of tensor `t` ([R, 1, …]), computing no more than it needs. */
  const chan = (t: string, rank: number): string => {
    const done = chanDone.get(t);
    if (done) return done;
    const out = chanOf(t, rank);
    chanDone.set(t, out);
    return out;
  };
  const chanOf = (t: string, rank: number): string => {
    if (t === lower || !isLive(t)) return gather(full(t), 1);
    const n = g.nodes[g.producer.get(t)!]!;
    const ins = n.input ?? [];
    const op = n.opType!;
    if (n.output?.[0] !== t) return gather(full(t), 1);
    if (UNARY_CHANNELWISE.has(op)) {
      return emit(op, [chan(ins[0]!, rank), ...ins.slice(1).map((i) => (i === "" ? "" : full(i)))], n.attribute ?? []);
    }
    if (POOLS.has(op) && !n.output?.[1]) return emit(op, [chan(ins[0]!, rank)], n.attribute ?? []);
    if (BINARY.has(op)) {
      return emit(
        op,
        ins.map((i) => (isLive(i) ? chan(i, rank) : constChannel(i, rank))),
        n.attribute ?? [],
      );
    }
    if (op === "BatchNormalization" && ins.slice(1).every(isConst)) {
      return emit(op, [chan(ins[0]!, rank), ...ins.slice(1).map((i) => gather(constName(i), 0))], n.attribute ?? []);
    }
    if (op === "Conv" && numberAttr(n, "group", 1) === 1 && ins.slice(1).every(isConst)) {
      const w = gather(constName(ins[1]!), 0);
      const b = ins[2] ? [gather(constName(ins[2]), 0)] : [];
      return emit(op, [full(ins[0]!), w, ...b], n.attribute ?? []);
    }
    if (op === "Gemm" && numberAttr(n, "transA", 0) === 0 && ins.slice(1).every(isConst)) {
      const b = gather(constName(ins[1]!), numberAttr(n, "transB", 0) ? 0 : 1);
      const cDims = ins[2] ? (g.initializers.get(ins[2])?.dims ?? []).map(Number) : [];
      const c = ins[2]
        ? [cDims.reduce((a, d) => a * d, 1) > 1 ? gather(constName(ins[2]), cDims.length - 1) : constName(ins[2])]
        : [];
      return emit(op, [full(ins[0]!), b, ...c], n.attribute ?? []);
    }
    return gather(full(t), 1);
  };
  if (!isLive(upper)) throw new UnsupportedSlice(`"${upper}" does not depend on "${lower}"`);
  const rank = upperRank(g, upper);
  const output = chan(upper, rank);
  for (const n of nodes) for (const i of n.input ?? []) if (i && g.initializers.has(i)) inits.add(i);
  return { nodes, output, initializers: inits };
}

/**
 * A node of opset 11 or 12 in its opset-13 form (the form the compiled models use): the axes of
 * Squeeze, Unsqueeze and ReduceSum and the sizes of Split move from attributes to inputs; Dropout
 * loses its ratio attribute (inference).
 */
function upgradeNode(n: NodeProto, init: Map<string, TensorProto>, index: number): NodeProto {
  const attrs = n.attribute ?? [];
  const moved = { Squeeze: "axes", Unsqueeze: "axes", ReduceSum: "axes", Split: "split" }[n.opType as string];
  if (moved) {
    const a = attrs.find((x) => x.name === moved);
    if (!a?.ints) return n;
    const name = `nf/upgrade/${index}/${moved}`;
    init.set(name, int64Tensor(name, [a.ints.length], a.ints.map(Number)));
    return { ...n, input: [...(n.input ?? []).slice(0, 1), name], attribute: attrs.filter((x) => x !== a) };
  }
  if (n.opType === "Dropout") return { ...n, attribute: attrs.filter((x) => x.name !== "ratio") };
  return n;
}

/** Rank of a layer tensor: 2 for a dense layer's output (Gemm, MatMul, Flatten), else 4. */
function upperRank(g: SourceGraph, t: string): number {
  const p = g.producer.get(t);
  const op = p === undefined ? "" : g.nodes[p]!.opType;
  return op === "Gemm" || op === "MatMul" || op === "Flatten" ? 2 : 4;
}
