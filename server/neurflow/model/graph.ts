/**
 * A differentiable tensor graph that can run any slice of itself: from the model input to a
 * tensor T, or from a tensor A to a tensor B. Both importers (ONNX, TF.js layers) produce one.
 *
 * Layout convention (the "internal layout"): every 4-D tensor is NHWC, whatever the source format
 * (ONNX is NCHW; importers translate at the boundaries of each op). Tensors of other ranks keep the
 * source order. So a conv layer's output is [N, H, W, C] and a dense layer's output is [N, units].
 */
import type { tf } from "../tf";

export interface GraphNode {
  /** Unique node name (the ONNX node name, or the Keras layer name). */
  name: string;
  /** Operator type, e.g. "Conv", "Relu" (ONNX) or "Conv2D" (Keras class name). */
  op: string;
  inputs: string[];
  outputs: string[];
}

/** A node that reads a tensor linearly (see TensorGraph.linearConsumers). */
export interface LinearConsumer {
  /** The node's output tensor. */
  output: string;
  /**
   * The part of the output that comes from the given input channels, bias excluded: for the
   * input with channels S zeroed, output(x ⊙ keep) = output(x) − partial(x[..., S], S).
   * `xS` holds only the channels S, in that order ([N, H, W, |S|]). Not differentiable.
   */
  partial(xS: tf.Tensor, channels: readonly number[]): tf.Tensor;
}

export interface TensorGraph {
  /** Name of the tensor that receives the image batch, [N, H, W, 3] in internal layout. */
  readonly inputName: string;
  /** Names of the graph outputs (the logits first). */
  readonly outputNames: readonly string[];
  /** Nodes in a topological order. */
  readonly nodes: readonly GraphNode[];
  /** True when `name` is a tensor produced in the graph (or its input). */
  hasTensor(name: string): boolean;
  /**
   * Runs the nodes needed to compute `outputs` from the fed tensors, and only those. Throws a clear
   * error when an output depends on a tensor that is neither fed nor computable from the feeds
   * (e.g. a slice from A to B where B also reads a branch that starts before A).
   * Differentiable: usable inside tf.grad / tf.valueAndGrad. Does not dispose the feeds.
   */
  run(feeds: Record<string, tf.Tensor>, outputs: readonly string[]): tf.Tensor[];
  /**
   * One channel of `output` ([N,H,W,1] or [N,1]), computing only what that channel needs where the
   * graph knows how (see channelSlice.ts); otherwise the full output, sliced. Differentiable.
   */
  runChannel(feeds: Record<string, tf.Tensor>, output: string, channel: number): tf.Tensor;
  /**
   * The nodes that read `tensor` as their only non-constant input and are linear in it
   * (convolutions without groups or fused nonlinearity). Knockouts of a few channels use them to
   * reuse one forward pass. Optional: without it, callers run the graph in full.
   */
  linearConsumers?(tensor: string): LinearConsumer[];
  /**
   * The frontier of the part of the slice from `fed` to `output` that is affine in `fed` (see
   * affinePrefix.ts): the slice evaluated from these tensors equals the slice from `fed`. Null
   * when nothing past `fed` is affine. Optional: without it, integrated gradients runs the whole
   * slice at every step.
   */
  affineFrontier?(fed: string, output: string): string[] | null;
  /**
   * The fed tensors of which `runChannel(feeds, output, c)` reads only channel c: feeding just
   * that channel ([..., 1]) under the same name gives the same result. Optional.
   */
  oneChannelFeeds?(feeds: Record<string, tf.Tensor>, output: string): string[];
  /** Frees the weights. */
  dispose(): void;
}
