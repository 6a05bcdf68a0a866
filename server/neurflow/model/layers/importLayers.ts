/**
 * A TF.js layers model as a TensorGraph. Tensor names are layer names: the output of layer `conv1`
 * is "conv1"; a layer with several outputs gives "conv1:0", "conv1:1"…; a layer called more than
 * once in the model (shared weights) names its k-th call's outputs "conv1#k" (k ≥ 1). Layers run in
 * topological order from the model's inbound nodes with `layer.apply`, so any slice works (e.g.
 * from one residual block's output to the next, across Add layers). Already NHWC.
 */
import { tf } from "../../tf";
import type { TensorGraph } from "../graph";
import type { AffineKind } from "../affinePrefix";
import type { ChannelRule } from "../channelSlice";
import { SlicedGraph, type ExecNode } from "../slicedGraph";
import { channelContribution, convolution, type ConvGeometry } from "../onnx/convolution";
import { fileIOHandler } from "./fileIO";

type Layer = tf.layers.Layer;
type LayerNode = Layer["inboundNodes"][number];

function tensorName(st: tf.SymbolicTensor): string {
  const layer = st.sourceLayer;
  const base = st.nodeIndex === 0 ? layer.name : `${layer.name}#${st.nodeIndex}`;
  const node = layer.inboundNodes[st.nodeIndex];
  const many = (node?.outputTensors.length ?? 1) > 1;
  return many ? `${base}:${st.tensorIndex}` : base;
}

interface ConvConfig {
  kernelSize: number | number[];
  strides?: number | number[];
  padding?: "valid" | "same";
  dataFormat?: string;
  dilationRate?: number | number[];
  useBias?: boolean;
  activation?: string;
}

const pair = (v: number | number[] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === "number" ? [v, v] : [v[0] ?? d, v[1] ?? v[0] ?? d];

/**
 * Conv2D and DepthwiseConv2D layers run through the engine's convolution, whose input gradient
 * exists on every backend: tfjs-layers uses fused convolutions, whose gradient always computes the
 * filter gradient too (no Conv2DBackpropFilter on wasm), and wasm lacks the depthwise input
 * gradient. Returns null for configurations it does not cover (then the layer runs as is).
 */
interface ConvReplacement {
  apply(x: tf.Tensor): tf.Tensor;
  /** Only output channel `channel` (a dense convolution: that column of the kernel, and its bias). */
  restrict?: (channel: number) => (x: tf.Tensor) => tf.Tensor;
  /** A dense convolution without nonlinearity is linear in its input (see TensorGraph.linearConsumers). */
  partial?: (xS: tf.Tensor, channels: readonly number[]) => tf.Tensor;
}

function convReplacement(layer: Layer, derived: tf.Tensor[]): ConvReplacement | null {
  const cls = layer.getClassName();
  if (cls !== "DepthwiseConv2D" && cls !== "Conv2D") return null;
  const c = layer.getConfig() as unknown as ConvConfig;
  if (c.dataFormat && c.dataFormat !== "channelsLast") return null;
  const [kernel, bias] = layer.getWeights() as [tf.Tensor4D, tf.Tensor1D | undefined];
  const geometry: ConvGeometry = {
    kernel: pair(c.kernelSize, 1),
    strides: pair(c.strides, 1),
    dilations: pair(c.dilationRate, 1),
    pads: [0, 0, 0, 0],
    autoPad: c.padding === "same" ? "SAME_UPPER" : "VALID",
  };
  // its gradient kernels, made on the first gradient
  const conv = convolution(cls === "Conv2D" ? "dense" : "depthwise", kernel, geometry, (t) => derived.push(t));
  derived.push(...conv.weights.filter((w) => w !== kernel));
  const activation =
    c.activation && c.activation !== "linear" ? tf.layers.activation({ activation: c.activation as "relu" }) : null;
  return {
    apply: (x) => {
      let y: tf.Tensor = conv.apply(x as tf.Tensor4D);
      if (c.useBias !== false && bias) y = tf.add(y, bias);
      return activation ? (activation.apply(y) as tf.Tensor) : y;
    },
    ...(cls === "Conv2D"
      ? { restrict: restrictConv(kernel, c.useBias !== false ? bias : undefined, geometry, activation, derived) }
      : {}),
    ...(cls === "Conv2D" && !activation
      ? {
          partial: channelContribution(
            () => kernel,
            geometry,
            (t) => derived.push(t),
          ),
        }
      : {}),
  };
}

/** One output channel of a dense convolution, built on first use per channel and kept with the model. */
function restrictConv(
  kernel: tf.Tensor4D,
  bias: tf.Tensor1D | undefined,
  geometry: ConvGeometry,
  activation: ReturnType<typeof tf.layers.activation> | null,
  derived: tf.Tensor[],
): (channel: number) => (x: tf.Tensor) => tf.Tensor {
  const cache = new Map<number, (x: tf.Tensor) => tf.Tensor>();
  return (channel) => {
    let r = cache.get(channel);
    if (!r) {
      const filter = tf.keep(tf.slice(kernel, [0, 0, 0, channel], [-1, -1, -1, 1])) as tf.Tensor4D;
      const b = bias ? tf.keep(tf.slice(bias, [channel], [1])) : undefined;
      const conv = convolution("dense", filter, geometry, (t) => derived.push(t));
      derived.push(...conv.weights, ...(b ? [b] : []));
      r = (x) => {
        let y: tf.Tensor = conv.apply(x as tf.Tensor4D);
        if (b) y = tf.add(y, b);
        return activation ? (activation.apply(y) as tf.Tensor) : y;
      };
      cache.set(channel, r);
    }
    return r;
  };
}

/** Layers whose output channel c depends only on input channel c, with no parameters of their own. */
const CHANNELWISE_LAYERS = new Set([
  "ReLU",
  "Add",
  "Maximum",
  "Minimum",
  "Dropout",
  "ZeroPadding2D",
  "MaxPooling2D",
  "AveragePooling2D",
  "LeakyReLU",
]);
const ELEMENTWISE_ACTIVATIONS = new Set([
  "linear",
  "relu",
  "relu6",
  "sigmoid",
  "hardSigmoid",
  "tanh",
  "elu",
  "selu",
  "softplus",
  "softsign",
  "swish",
  "mish",
]);

/**
 * How a layer's output channels depend on its inputs (for computing one channel only): parameter-
 * free channel-wise layers keep the channel; a batch normalisation over the last axis keeps it with
 * that channel's scale and shift; a dense convolution computes only the needed output.
 */
function layerChannelRule(
  layer: Layer,
  replacement: ConvReplacement | null,
  derived: tf.Tensor[],
): ChannelRule<tf.Tensor> | undefined {
  const cls = layer.getClassName();
  const config = layer.getConfig() as {
    activation?: string;
    axis?: number | number[];
    epsilon?: number;
    center?: boolean;
    scale?: boolean;
  };
  if (replacement?.restrict) {
    const restrict = replacement.restrict;
    return { kind: "producer", restrict: (channel) => (inputs) => [restrict(channel)(inputs[0]!)] };
  }
  if (CHANNELWISE_LAYERS.has(cls)) return { kind: "elementwise" };
  if (cls === "Activation" && ELEMENTWISE_ACTIVATIONS.has(config.activation ?? "")) return { kind: "elementwise" };
  if (cls === "BatchNormalization") {
    const axis = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
    if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== 3)) return undefined;
    let scaleShift: [tf.Tensor1D, tf.Tensor1D] | null = null;
    return {
      kind: "elementwise",
      channelRun: (channel) => (inputs) => {
        if (!scaleShift) {
          const w = layer.getWeights() as tf.Tensor1D[];
          let i = 0;
          const gamma = config.scale !== false ? w[i++]! : null;
          const beta = config.center !== false ? w[i++]! : null;
          const mean = w[i++]!;
          const variance = w[i++]!;
          const eps = config.epsilon ?? 1e-3;
          scaleShift = tf.tidy(() => {
            const a = tf.div(gamma ?? tf.onesLike(mean), tf.sqrt(tf.add(variance, eps))) as tf.Tensor1D;
            const b = tf.sub(beta ?? tf.zerosLike(mean), tf.mul(mean, a)) as tf.Tensor1D;
            return [tf.keep(a), tf.keep(b)] as [tf.Tensor1D, tf.Tensor1D];
          });
          derived.push(...scaleShift);
        }
        const [a, b] = scaleShift;
        return [tf.add(tf.mul(inputs[0]!, tf.slice(a, [channel], [1])), tf.slice(b, [channel], [1]))];
      },
    };
  }
  return undefined;
}

/** Layers affine in their input(s) at inference (see affinePrefix.ts). */
const JOINTLY_AFFINE_LAYERS = new Set(["Add", "Subtract", "Average", "Concatenate"]);
const AFFINE_LAYERS = new Set([
  "BatchNormalization",
  "ZeroPadding2D",
  "Cropping2D",
  "Flatten",
  "Reshape",
  "Permute",
  "Dropout",
  "SpatialDropout1D",
  "AveragePooling2D",
  "GlobalAveragePooling2D",
  "AveragePooling1D",
  "GlobalAveragePooling1D",
  "UpSampling2D",
]);
const LINEAR_WHEN_NO_ACTIVATION = new Set(["Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv1D", "Dense"]);

function layerAffineKind(layer: Layer): AffineKind | undefined {
  const cls = layer.getClassName();
  const config = layer.getConfig() as { activation?: string; interpolation?: string };
  if (JOINTLY_AFFINE_LAYERS.has(cls)) return "joint";
  if (
    cls === "UpSampling2D" &&
    config.interpolation &&
    config.interpolation !== "nearest" &&
    config.interpolation !== "bilinear"
  )
    return undefined;
  if (AFFINE_LAYERS.has(cls)) return "first";
  const linear = config.activation === undefined || config.activation === "linear";
  if (LINEAR_WHEN_NO_ACTIVATION.has(cls) && linear) return "first";
  if (cls === "Activation" && config.activation === "linear") return "first";
  return undefined;
}

function isInputNode(node: LayerNode): boolean {
  return node.inboundLayers.length === 0;
}

/** Wraps an in-memory layers model (it keeps owning its weights: dispose() disposes it). */
export function layersModelToGraph(model: tf.LayersModel, label = `TF.js model "${model.name}"`): TensorGraph {
  if (model.inputs.length !== 1) throw new Error(`${label}: expected one input, found ${model.inputs.length}`);
  const inputName = tensorName(model.inputs[0]!);
  // depth-first from the outputs: post-order is a topological order
  const order: LayerNode[] = [];
  const seen = new Set<LayerNode>();
  const open = new Set<LayerNode>();
  const visit = (root: tf.SymbolicTensor) => {
    const stack: { node: LayerNode; expanded: boolean }[] = [];
    const push = (st: tf.SymbolicTensor) => {
      const node = st.sourceLayer.inboundNodes[st.nodeIndex];
      if (!node) throw new Error(`${label}: layer "${st.sourceLayer.name}" has no node ${st.nodeIndex}`);
      if (!seen.has(node) && !open.has(node)) stack.push({ node, expanded: false });
    };
    push(root);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (seen.has(top.node)) {
        stack.pop();
        continue;
      }
      if (!top.expanded) {
        top.expanded = true;
        open.add(top.node);
        // an input layer's node lists its own output as its input
        if (!isInputNode(top.node)) for (const st of top.node.inputTensors) push(st);
        continue;
      }
      stack.pop();
      open.delete(top.node);
      seen.add(top.node);
      order.push(top.node);
    }
  };
  model.outputs.forEach(visit);

  const nodes: ExecNode<tf.Tensor>[] = [];
  const derived: tf.Tensor[] = [];
  for (const node of order) {
    if (isInputNode(node)) {
      const name = tensorName(node.outputTensors[0]!);
      if (name !== inputName)
        throw new Error(`${label}: the outputs depend on input layer "${name}", which is not the model's input`);
      continue;
    }
    const layer = node.outboundLayer;
    const inputs = node.inputTensors.map(tensorName);
    const outputs = node.outputTensors.map(tensorName);
    const kwargs = { ...(node.callArgs ?? {}), training: false };
    const replacement = convReplacement(layer, derived);
    const rule = layerChannelRule(layer, replacement, derived);
    const affine = layerAffineKind(layer);
    nodes.push({
      name: outputs.length === 1 ? outputs[0]! : layer.name,
      op: layer.getClassName(),
      inputs,
      outputs,
      run: (values) => {
        const xs = values.map((v, i) => v ?? fail(`${label}: layer "${layer.name}" is missing input "${inputs[i]}"`));
        if (replacement && xs.length === 1) return [replacement.apply(xs[0]!)];
        const y = layer.apply(xs.length === 1 ? xs[0]! : xs, kwargs) as tf.Tensor | tf.Tensor[];
        return Array.isArray(y) ? y : [y];
      },
      ...(replacement?.partial ? { linearInput: replacement.partial } : {}),
      ...(rule ? { channelRule: rule } : {}),
      ...(affine ? { affine } : {}),
    });
  }
  return new SlicedGraph<tf.Tensor>({
    label,
    inputName,
    outputNames: model.outputs.map(tensorName),
    nodes,
    fromFeed: (_n, t) => t,
    toTensor: (t) => t,
    tensorOf: (t) => t,
    // a layers graph has no graph-level constants: every weight lives inside its layer
    constantChannels: () => undefined,
    constantChannel: () => fail(`${label}: no graph-level constants`),
    disposeWeights: () => {
      derived.forEach((t) => t.dispose());
      model.dispose();
    },
  });
}

function fail(message: string): never {
  throw new Error(message);
}

/** Loads model.json (and its weight shards) from disk. */
export async function importLayers(modelJsonPath: string): Promise<TensorGraph> {
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(fileIOHandler(modelJsonPath));
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.includes(modelJsonPath) ? m : `cannot load TF.js layers model ${modelJsonPath}: ${m}`);
  }
  return layersModelToGraph(model, `TF.js model ${modelJsonPath}`);
}
