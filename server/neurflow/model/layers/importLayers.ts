/**
 * A TF.js layers model as a TensorGraph. Tensor names are layer names: the output of layer `conv1`
 * is "conv1"; a layer with several outputs gives "conv1:0", "conv1:1"…; a layer called more than
 * once in the model (shared weights) names its k-th call's outputs "conv1#k" (k ≥ 1). Layers run in
 * topological order from the model's inbound nodes with `layer.apply`, so any slice works (e.g.
 * from one residual block's output to the next, across Add layers). Already NHWC.
 */
import { tf } from "../../tf";
import type { TensorGraph } from "../graph";
import { SlicedGraph, type ExecNode } from "../slicedGraph";
import { convolution } from "../onnx/convolution";
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
function convReplacement(layer: Layer, derived: tf.Tensor[]): ((x: tf.Tensor) => tf.Tensor) | null {
  const cls = layer.getClassName();
  if (cls !== "DepthwiseConv2D" && cls !== "Conv2D") return null;
  const c = layer.getConfig() as unknown as ConvConfig;
  if (c.dataFormat && c.dataFormat !== "channelsLast") return null;
  const [kernel, bias] = layer.getWeights() as [tf.Tensor4D, tf.Tensor1D | undefined];
  const conv = convolution(cls === "Conv2D" ? "dense" : "depthwise", kernel, {
    kernel: pair(c.kernelSize, 1),
    strides: pair(c.strides, 1),
    dilations: pair(c.dilationRate, 1),
    pads: [0, 0, 0, 0],
    autoPad: c.padding === "same" ? "SAME_UPPER" : "VALID",
  });
  derived.push(...conv.weights.filter((w) => w !== kernel));
  const activation = c.activation && c.activation !== "linear" ? tf.layers.activation({ activation: c.activation as "relu" }) : null;
  return (x) => {
    let y: tf.Tensor = conv.apply(x as tf.Tensor4D);
    if (c.useBias !== false && bias) y = tf.add(y, bias);
    return activation ? (activation.apply(y) as tf.Tensor) : y;
  };
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
      if (name !== inputName) throw new Error(`${label}: the outputs depend on input layer "${name}", which is not the model's input`);
      continue;
    }
    const layer = node.outboundLayer;
    const inputs = node.inputTensors.map(tensorName);
    const outputs = node.outputTensors.map(tensorName);
    const kwargs = { ...(node.callArgs ?? {}), training: false };
    const replacement = convReplacement(layer, derived);
    nodes.push({
      name: outputs.length === 1 ? outputs[0]! : layer.name,
      op: layer.getClassName(),
      inputs,
      outputs,
      run: (values) => {
        const xs = values.map((v, i) => v ?? fail(`${label}: layer "${layer.name}" is missing input "${inputs[i]}"`));
        if (replacement && xs.length === 1) return [replacement(xs[0]!)];
        const y = layer.apply(xs.length === 1 ? xs[0]! : xs, kwargs) as tf.Tensor | tf.Tensor[];
        return Array.isArray(y) ? y : [y];
      },
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
