/**
 * Computing one channel of a tensor, and only what that channel needs. Integrated gradients
 * differentiates one target channel of the upper layer, so the last convolution of the slice (and
 * a residual path) needs only that output channel: a pass backwards from the target marks, per
 * tensor, whether one channel or all of it is needed — elementwise ops (Relu, Add, Mul, Clip, …)
 * keep the channel; a convolution needs all its inputs but computes only the needed output; any
 * other op needs everything. For a ResNet BasicBlock this halves the work of every IG step, with
 * identical results.
 */
import { tf } from "../tf";

/** How a node's output channels depend on its inputs (absent: opaque, needs everything). */
export type ChannelRule<V> =
  | {
      kind: "elementwise";
      /**
       * For a channel-wise op with its own per-channel parameters (a batch normalisation layer):
       * the run on one channel's inputs. Absent: the node's own run works on one channel.
       */
      channelRun?: (channel: number) => (inputs: (V | undefined)[]) => V[];
    }
  | {
      kind: "producer";
      /** A run computing only output channel `channel` (all inputs in full). */
      restrict(channel: number): (inputs: (V | undefined)[]) => V[];
    };

export type NodeMode = "full" | "channel" | "restricted";

export interface ChannelPlan {
  /** Per plan step: how it runs. */
  modes: NodeMode[];
  /** Per plan step, per input: slice the input to the target channel before the step. */
  sliceInput: boolean[][];
  /** Per plan step: the rank of its (first) output. */
  ranks: number[];
}

export interface PlanStep {
  inputs: readonly string[];
  outputs: readonly string[];
  rule?: ChannelRule<unknown>;
}

/**
 * The backwards "needed channels" pass over a slice's steps. `shapes` are the internal shapes of
 * every tensor of the slice (from a probe run); `constantDims` the channel-axis size of each
 * constant input after broadcasting alignment (undefined: not channel-shaped).
 */
export function planChannels(
  steps: readonly PlanStep[],
  output: string,
  shapes: ReadonlyMap<string, readonly number[]>,
  isConstant: (name: string) => boolean,
  constantChannels: (name: string, outRank: number) => number | undefined,
): ChannelPlan {
  const need = new Map<string, "one" | "all">([[output, "one"]]);
  const mark = (name: string, n: "one" | "all") => {
    if (name === "" || isConstant(name)) return;
    need.set(name, need.get(name) === "all" || n === "all" ? "all" : "one");
  };
  const modes: NodeMode[] = new Array(steps.length).fill("full");
  const sliceInput: boolean[][] = steps.map((s) => s.inputs.map(() => false));
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!;
    const out = s.outputs[0] ?? "";
    const wanted = s.outputs.length === 1 ? need.get(out) : "all";
    const outShape = shapes.get(out);
    const channelLast = outShape !== undefined && (outShape.length === 4 || outShape.length === 2);
    if (wanted === "one" && channelLast && s.rule?.kind === "elementwise") {
      const C = outShape[outShape.length - 1]!;
      let ok = true;
      s.inputs.forEach((name, k) => {
        if (name === "") return;
        if (isConstant(name)) {
          const c = constantChannels(name, outShape.length);
          if (c === C && C > 1) sliceInput[i]![k] = true;
          else if (c !== undefined && c !== 1) ok = false;
          return;
        }
        const sh = shapes.get(name);
        if (sh && sh.length === outShape.length && sh[sh.length - 1] === C && C > 1) mark(name, "one");
        else if (sh && sh.length === outShape.length && sh[sh.length - 1] === 1) mark(name, "all");
        else ok = false;
      });
      if (ok) {
        modes[i] = "channel";
        continue;
      }
      sliceInput[i] = s.inputs.map(() => false);
    }
    if (wanted === "one" && channelLast && s.rule?.kind === "producer") {
      modes[i] = "restricted";
      for (const name of s.inputs) mark(name, "all");
      continue;
    }
    for (const name of s.inputs) mark(name, "all");
  }
  // inputs of "channel" steps produced in full by their producer are sliced when read
  const oneValued = new Set<string>();
  steps.forEach((s, i) => {
    if (modes[i] !== "full") for (const o of s.outputs) oneValued.add(o);
  });
  steps.forEach((s, i) => {
    if (modes[i] !== "channel") return;
    s.inputs.forEach((name, k) => {
      if (name === "" || isConstant(name)) return;
      if (!oneValued.has(name)) {
        const sh = shapes.get(name);
        if (sh && sh[sh.length - 1]! > 1) sliceInput[i]![k] = true;
      }
    });
  });
  return {
    modes,
    sliceInput,
    ranks: steps.map((s) => shapes.get(s.outputs[0] ?? "")?.length ?? 0),
  };
}

/** One channel of a channel-last tensor ([N,H,W,C] or [N,C]), keeping the rank. */
export function channelOf(t: tf.Tensor, channel: number): tf.Tensor {
  const C = t.shape[t.rank - 1]!;
  if (!Number.isInteger(channel) || channel < 0 || channel >= C)
    throw new Error(`a tensor of ${C} channels has no channel ${channel}`);
  const begin = t.shape.map((_, i) => (i === t.rank - 1 ? channel : 0));
  const size = t.shape.map((_, i) => (i === t.rank - 1 ? 1 : -1));
  return tf.slice(t, begin, size);
}
