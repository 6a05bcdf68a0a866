/**
 * The executor both importers share: a list of nodes in topological order, each a function of its
 * input values, run as slices. `run(feeds, outputs)` walks back from the outputs, stops at fed
 * tensors and constants, and runs only the nodes on the way, in order. Plans are cached per
 * (feed names, outputs). Intermediate tensors are freed as soon as the last node that reads them
 * has run (tfjs keeps its own copies of whatever a gradient needs), and everything else at the end.
 */
import { tf } from "../tf";
import { affineFrontier, type AffineKind } from "./affinePrefix";
import { channelOf, planChannels, type ChannelPlan, type ChannelRule } from "./channelSlice";
import type { GraphNode, LinearConsumer, TensorGraph } from "./graph";

export interface ExecNode<V> extends GraphNode {
  /** Computes the outputs from the inputs (undefined for an omitted optional input ""). */
  run(inputs: (V | undefined)[]): V[];
  /** How its output channels depend on its inputs; absent: it needs all of them. */
  channelRule?: ChannelRule<V>;
  /** For a node linear in input 0 (NHWC): the contribution of some input channels, bias excluded. */
  linearInput?: LinearConsumer["partial"];
  /** How the node is affine in its inputs, if it is (see affinePrefix.ts). */
  affine?: AffineKind;
}

export interface SlicedGraphOptions<V> {
  inputName: string;
  outputNames: readonly string[];
  nodes: readonly ExecNode<V>[];
  /** Tensors known without running anything (weights, folded constants). */
  constants?: ReadonlyMap<string, V>;
  /** A fed tf.Tensor as a value (e.g. a layout change for a special input). */
  fromFeed(name: string, t: tf.Tensor): V;
  /** A value as a tf.Tensor to return from `run`. */
  toTensor(v: V, name: string): tf.Tensor;
  /** The tf.Tensor a value holds, if any (for freeing); undefined for host values. */
  tensorOf(v: V): tf.Tensor | undefined;
  /** Releases weights. */
  disposeWeights(): void;
  /** What the graph is called in error messages, e.g. `ONNX model "resnet"`. */
  label: string;
  /**
   * For a constant read by a channel-wise node whose output has rank `outRank`: the size of its
   * channel axis after broadcasting alignment (undefined when it cannot broadcast that way), and
   * the constant reduced to one channel as a value the node accepts.
   */
  constantChannels?(v: V, outRank: number): number | undefined;
  constantChannel?(v: V, outRank: number, channel: number): V;
}

interface Plan<V> {
  steps: ExecNode<V>[];
  /** For each step, the tensor names whose last reader it is. */
  releaseAfter: string[][];
}

export class SlicedGraph<V> implements TensorGraph {
  readonly inputName: string;
  readonly outputNames: readonly string[];
  readonly nodes: readonly ExecNode<V>[];
  private readonly producer = new Map<string, number>();
  private readonly constants: ReadonlyMap<string, V>;
  private readonly plans = new Map<string, Plan<V>>();
  private readonly channelPlans = new Map<string, { plan: ChannelPlan | null; channels: number }>();
  private readonly frontiers = new Map<string, string[] | null>();
  private disposed = false;

  constructor(private readonly o: SlicedGraphOptions<V>) {
    this.inputName = o.inputName;
    this.outputNames = o.outputNames;
    this.nodes = o.nodes;
    this.constants = o.constants ?? new Map();
    o.nodes.forEach((n, i) => {
      for (const out of n.outputs) {
        if (out === "") continue;
        if (this.producer.has(out) || this.constants.has(out) || out === o.inputName) {
          throw new Error(`${o.label}: tensor "${out}" is produced more than once (again by node "${n.name}")`);
        }
        this.producer.set(out, i);
      }
    });
    // Every input must be available in topological order.
    const available = new Set<string>([o.inputName, ...this.constants.keys()]);
    for (const n of o.nodes) {
      for (const inp of n.inputs) {
        if (inp !== "" && !available.has(inp)) {
          const why = this.producer.has(inp)
            ? "is produced later (the graph has a cycle or is not sorted)"
            : "is not produced by any node";
          throw new Error(`${o.label}: node "${n.name}" (${n.op}) reads tensor "${inp}", which ${why}`);
        }
      }
      for (const out of n.outputs) if (out !== "") available.add(out);
    }
    for (const out of o.outputNames) {
      if (!available.has(out)) throw new Error(`${o.label}: graph output "${out}" is not produced by any node`);
    }
  }

  linearConsumers(tensor: string): LinearConsumer[] {
    return this.nodes.flatMap((n) => {
      if (!n.linearInput || n.inputs[0] !== tensor || n.outputs.length !== 1) return [];
      // every other input must be a constant (the weights), not another activation
      if (n.inputs.slice(1).some((i) => i !== "" && !this.constants.has(i))) return [];
      return [{ output: n.outputs[0]!, partial: n.linearInput }];
    });
  }

  affineFrontier(fed: string, output: string): string[] | null {
    const key = `${fed}\u0001${output}`;
    let f = this.frontiers.get(key);
    if (f === undefined) {
      f = affineFrontier(this.getPlan([fed], [output]).steps, fed, output, (n) => this.constants.has(n));
      this.frontiers.set(key, f);
    }
    return f && [...f];
  }

  hasTensor(name: string): boolean {
    return name === this.inputName || this.producer.has(name) || this.constants.has(name);
  }

  /** The nodes a slice runs, in order. */
  plan(feedNames: readonly string[], outputs: readonly string[]): readonly ExecNode<V>[] {
    return this.getPlan(feedNames, outputs).steps;
  }

  private getPlan(feedNames: readonly string[], outputs: readonly string[]): Plan<V> {
    const key = `${[...feedNames].sort().join("\u0000")}\u0001${outputs.join("\u0000")}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = this.makePlan(new Set(feedNames), outputs);
      this.plans.set(key, plan);
    }
    return plan;
  }

  private makePlan(fed: ReadonlySet<string>, outputs: readonly string[]): Plan<V> {
    const label = this.o.label;
    for (const f of fed)
      if (!this.hasTensor(f)) throw new Error(`${label}: cannot feed "${f}": no such tensor in the graph`);
    const needed = new Set<number>();
    for (const out of outputs) {
      if (!this.hasTensor(out)) throw new Error(`${label}: no tensor named "${out}" in the graph`);
      const stack: string[] = [out];
      while (stack.length) {
        const t = stack.pop()!;
        if (fed.has(t) || this.constants.has(t)) continue;
        const p = this.producer.get(t);
        if (p === undefined) {
          const feeds = fed.size ? [...fed].map((f) => `"${f}"`).join(", ") : "nothing";
          throw new Error(
            `${label}: cannot compute "${out}" from the feeds (${feeds}): it needs tensor "${t}", which is neither fed nor computable from them`,
          );
        }
        if (needed.has(p)) continue;
        needed.add(p);
        for (const inp of this.nodes[p]!.inputs) if (inp !== "") stack.push(inp);
      }
    }
    const order = [...needed].sort((a, b) => a - b);
    const steps = order.map((i) => this.nodes[i]!);
    const keep = new Set<string>([...outputs, ...fed]);
    const lastUse = new Map<string, number>();
    steps.forEach((s, i) => {
      for (const inp of s.inputs) if (inp !== "" && !keep.has(inp) && !this.constants.has(inp)) lastUse.set(inp, i);
      // an output nobody reads is released right away
      for (const out of s.outputs) if (out !== "" && !keep.has(out) && !lastUse.has(out)) lastUse.set(out, i);
    });
    const releaseAfter: string[][] = steps.map(() => []);
    for (const [name, i] of lastUse) releaseAfter[i]!.push(name);
    return { steps, releaseAfter };
  }

  run(feeds: Record<string, tf.Tensor>, outputs: readonly string[]): tf.Tensor[] {
    if (this.disposed) throw new Error(`${this.o.label} has been disposed`);
    const names = Object.keys(feeds);
    const plan = this.getPlan(names, outputs);
    return tf.tidy(() => {
      const env = new Map<string, V>();
      const holders = new Map<tf.Tensor, number>();
      const fedTensors = new Set<tf.Tensor>();
      const hold = (name: string, v: V) => {
        env.set(name, v);
        const t = this.o.tensorOf(v);
        if (t) holders.set(t, (holders.get(t) ?? 0) + 1);
      };
      for (const name of names) {
        const t = feeds[name]!;
        fedTensors.add(t);
        const v = this.o.fromFeed(name, t);
        const vt = this.o.tensorOf(v);
        if (vt) fedTensors.add(vt);
        hold(name, v);
      }
      plan.steps.forEach((node, i) => {
        const inputs = node.inputs.map((n) => (n === "" ? undefined : (env.get(n) ?? this.constants.get(n))));
        const outs = node.run(inputs);
        node.outputs.forEach((o, k) => {
          if (o === "") return;
          const v = outs[k];
          if (v === undefined)
            throw new Error(`${this.o.label}: node "${node.name}" (${node.op}) did not produce output "${o}"`);
          hold(o, v);
        });
        for (const name of plan.releaseAfter[i]!) {
          const v = env.get(name);
          if (v === undefined) continue;
          env.delete(name);
          const t = this.o.tensorOf(v);
          if (!t) continue;
          const left = (holders.get(t) ?? 1) - 1;
          holders.set(t, left);
          if (left === 0 && !fedTensors.has(t)) t.dispose();
        }
      });
      return outputs.map((o) => {
        const v = env.get(o) ?? this.constants.get(o);
        if (v === undefined) throw new Error(`${this.o.label}: output "${o}" was not computed`);
        const t = this.o.toTensor(v, o);
        return fedTensors.has(t) ? t.clone() : t;
      });
    });
  }

  oneChannelFeeds(feeds: Record<string, tf.Tensor>, output: string): string[] {
    const { plan, planned } = this.channelPlanOf(feeds, output);
    const cp = planned.plan;
    if (!cp) return [];
    return Object.keys(feeds).filter((name) => {
      let read = false;
      const ok = plan.steps.every((s, i) =>
        s.inputs.every((n, k) => {
          if (n !== name) return true;
          read = true;
          return cp.modes[i] === "channel" && cp.sliceInput[i]![k]!;
        }),
      );
      return read && ok && feeds[name]!.shape[feeds[name]!.rank - 1]! > 1;
    });
  }

  private channelPlanOf(feeds: Record<string, tf.Tensor>, output: string) {
    const names = Object.keys(feeds);
    const plan = this.getPlan(names, [output]);
    const key = `${names
      .map((n) => `${n}:${feeds[n]!.shape.slice(1).join("x")}`)
      .sort()
      .join("\u0000")}\u0001${output}`;
    let planned = this.channelPlans.get(key);
    if (planned === undefined) {
      planned = this.makeChannelPlan(feeds, output, plan);
      this.channelPlans.set(key, planned);
    }
    return { names, plan, planned };
  }

  runChannel(feeds: Record<string, tf.Tensor>, output: string, channel: number): tf.Tensor {
    if (this.disposed) throw new Error(`${this.o.label} has been disposed`);
    const { names, plan, planned } = this.channelPlanOf(feeds, output);
    if (!Number.isInteger(channel) || channel < 0 || channel >= planned.channels) {
      throw new Error(`${this.o.label}: "${output}" has ${planned.channels} channels; there is no channel ${channel}`);
    }
    const cp = planned.plan;
    if (cp === null) return tf.tidy(() => channelOf(this.run(feeds, [output])[0]!, channel));
    const channelPlan = cp;
    return tf.tidy(() => {
      const env = new Map<string, V>();
      for (const name of names) env.set(name, this.o.fromFeed(name, feeds[name]!));
      plan.steps.forEach((node, i) => {
        const mode = channelPlan.modes[i]!;
        const inputs = node.inputs.map((n, k) => {
          if (n === "") return undefined;
          const v = env.get(n) ?? this.constants.get(n);
          if (v === undefined || !channelPlan.sliceInput[i]![k]) return v;
          if (!env.has(n)) return this.o.constantChannel!(v, channelPlan.ranks[i]!, channel);
          return this.o.fromFeed("", channelOf(this.o.toTensor(v, n), channel)) as V;
        });
        const rule = node.channelRule;
        const outs =
          mode === "restricted" && rule?.kind === "producer"
            ? rule.restrict(channel)(inputs)
            : mode === "channel" && rule?.kind === "elementwise" && rule.channelRun
              ? rule.channelRun(channel)(inputs)
              : node.run(inputs);
        node.outputs.forEach((o, k) => {
          if (o !== "" && outs[k] !== undefined) env.set(o, outs[k]!);
        });
      });
      const v = env.get(output);
      if (v === undefined) throw new Error(`${this.o.label}: output "${output}" was not computed`);
      const t = this.o.toTensor(v, output);
      const last = plan.steps.length - 1;
      const computedOne = last >= 0 && channelPlan.modes[last] !== "full";
      return computedOne ? t : channelOf(t, channel);
    });
  }

  /**
   * The needed-channels plan of a slice, from a probe run for the shapes (null when nothing is
   * gained), and the number of channels of its output.
   */
  private makeChannelPlan(
    feeds: Record<string, tf.Tensor>,
    output: string,
    plan: Plan<V>,
  ): { plan: ChannelPlan | null; channels: number } {
    const shapes = new Map<string, readonly number[]>();
    const names = plan.steps.flatMap((s) => s.outputs.filter((o) => o !== ""));
    tf.tidy(() => {
      const probe: Record<string, tf.Tensor> = {};
      for (const [n, t] of Object.entries(feeds)) {
        probe[n] = tf.zeros([1, ...t.shape.slice(1)], t.dtype);
        shapes.set(n, t.shape);
      }
      const outs = this.run(probe, names.length ? names : [output]);
      names.forEach((n, i) => shapes.set(n, outs[i]!.shape));
      if (!shapes.has(output)) shapes.set(output, outs[0]!.shape);
    });
    const outShape = shapes.get(output)!;
    const channels = outShape[outShape.length - 1] ?? 1;
    if (!this.o.constantChannels || !this.o.constantChannel || plan.steps.length === 0) return { plan: null, channels };
    if (!plan.steps.some((s) => s.channelRule?.kind === "producer")) return { plan: null, channels };
    const constantChannels = (name: string, outRank: number) =>
      this.o.constantChannels!(this.constants.get(name)!, outRank);
    const cp = planChannels(
      plan.steps.map((s) => ({
        inputs: s.inputs,
        outputs: s.outputs,
        ...(s.channelRule ? { rule: s.channelRule as ChannelRule<unknown> } : {}),
      })),
      output,
      shapes,
      (n) => this.constants.has(n) && !(n in feeds),
      constantChannels,
    );
    return { plan: cp.modes.some((m) => m === "restricted") ? cp : null, channels };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.o.disposeWeights();
  }
}
