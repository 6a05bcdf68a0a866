/**
 * Neuron activations on patches: the spatial mean of every channel of every chosen layer, computed
 * in one pass of the network per batch of patches (each layer once per patch, never the prefix
 * again per layer). Dense layers give their units directly.
 */
import type { TensorGraph } from "./model/graph";
import type { LayerMaps } from "./targetAttribution";
import { materializePatches, type Patch } from "./patches";
import { tf } from "./tf";

export interface LayerActivations {
  /** [patches × channels] row-major. */
  means: Float32Array;
  channels: number;
}

/** Spatial mean per channel of an [N,H,W,C] map, or the [N,units] tensor itself. */
export function spatialMean(t: tf.Tensor): tf.Tensor2D {
  if (t.rank === 4) return t.mean([1, 2]) as tf.Tensor2D;
  if (t.rank === 2) return t.clone() as tf.Tensor2D;
  throw new Error(`a layer output of rank ${t.rank} cannot be a circuit layer (need [N,H,W,C] or [N,units])`);
}

export async function computeActivations(
  graph: TensorGraph,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  layerTensors: readonly string[],
  batchSize: number,
  onBatch?: (done: number, total: number) => void,
  shouldStop?: () => void,
): Promise<LayerActivations[]> {
  const shapes = outputShapes(graph, images, patches, layerTensors);
  const buffers = allocateActivations(patches.length, layerTensors, [], (t) => shapes[layerTensors.indexOf(t)]!);
  await fillActivations(graph, images, patches, buffers, 0, patches.length, batchSize, onBatch, shouldStop);
  return buffers.activations;
}

/**
 * Where an activation pass writes: the activations of every chosen layer, and the full maps of the
 * layers in `keep` (every patch, in patch order), all in shared memory, so that worker threads can
 * fill parts of them and the attribution workers read the maps without copies.
 */
export interface ActivationBuffers {
  layerTensors: string[];
  activations: LayerActivations[];
  keep: string[];
  maps: LayerMaps[];
}

/** The per-patch output shape of each tensor (from one patch through the network). */
export function outputShapes(
  graph: TensorGraph,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  tensors: readonly string[],
): number[][] {
  if (tensors.length === 0) return [];
  return tf.tidy(() =>
    graph.run({ [graph.inputName]: materializePatches(images, patches, [0]) }, tensors).map((t) => t.shape.slice(1)),
  );
}

/** Shared buffers for `patches` patches, given each tensor's per-patch shape (see outputShapes). */
export function allocateActivations(
  patches: number,
  layerTensors: readonly string[],
  keep: readonly string[],
  shapeOf: (tensor: string) => readonly number[],
): ActivationBuffers {
  const shared = (n: number) => new Float32Array(new SharedArrayBuffer(n * 4));
  const activations = layerTensors.map((t) => {
    const shape = shapeOf(t);
    if (shape.length !== 3 && shape.length !== 1) {
      throw new Error(
        `a layer output of rank ${shape.length + 1} cannot be a circuit layer (need [N,H,W,C] or [N,units])`,
      );
    }
    const channels = shape[shape.length - 1]!;
    return { means: shared(patches * channels), channels };
  });
  const identity = Int32Array.from({ length: patches }, (_, i) => i);
  const maps = keep.map((t) => {
    const rowShape = [...shapeOf(t)];
    return { lowerTensor: t, rowShape, rowOf: identity, data: shared(patches * rowShape.reduce((a, b) => a * b, 1)) };
  });
  return { layerTensors: [...layerTensors], activations, keep: [...keep], maps };
}

/**
 * Runs patches [from, to) through the network in batches and writes their activations (and kept
 * maps) into `buffers`: one pass per batch for every layer.
 */
export async function fillActivations(
  graph: TensorGraph,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  buffers: ActivationBuffers,
  from: number,
  to: number,
  batchSize: number,
  onBatch?: (done: number, total: number) => void,
  shouldStop?: () => void,
): Promise<void> {
  const { layerTensors, keep } = buffers;
  const outputs = [...layerTensors, ...keep.filter((t) => !layerTensors.includes(t))];
  const batches = Math.ceil((to - from) / batchSize);
  for (let b = 0; b < batches; b++) {
    shouldStop?.();
    const first = from + b * batchSize;
    const idx = Array.from({ length: Math.min(batchSize, to - first) }, (_, i) => first + i);
    const { means, full } = tf.tidy(() => {
      const outs = graph.run({ [graph.inputName]: materializePatches(images, patches, idx) }, outputs);
      return {
        means: outs.slice(0, layerTensors.length).map(spatialMean),
        full: keep.map((t) => outs[outputs.indexOf(t)]!),
      };
    });
    const [values, fullValues] = await Promise.all([
      Promise.all(means.map((m) => m.data())),
      Promise.all(full.map((m) => m.data())),
    ]);
    buffers.activations.forEach((a, li) => a.means.set(values[li] as Float32Array, first * a.channels));
    buffers.maps.forEach((m, k) => m.data.set(fullValues[k] as Float32Array, first * (m.data.length / patches.length)));
    tf.dispose([...means, ...full]);
    onBatch?.(b + 1, batches);
  }
}

/** Full maps of one layer for the given patches, as one tensor [n, ...]. */
export function computeLayerMaps(
  graph: TensorGraph,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  indices: readonly number[],
  layerTensor: string,
  batchSize: number,
): tf.Tensor {
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < indices.length; i += batchSize) {
    const idx = indices.slice(i, i + batchSize);
    parts.push(
      tf.tidy(() => graph.run({ [graph.inputName]: materializePatches(images, patches, idx) }, [layerTensor])[0]!),
    );
  }
  const out = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
  if (parts.length > 1) parts.forEach((p) => p.dispose());
  return out;
}

/** One column of an activation table: the activation of `channel` on every patch. */
export function activationColumn(a: LayerActivations, channel: number): Float32Array {
  const P = a.means.length / a.channels;
  const out = new Float32Array(P);
  for (let p = 0; p < P; p++) out[p] = a.means[p * a.channels + channel]!;
  return out;
}

/** Row vectors (lower-layer representations, float32 as computed) of the given patches. */
export function activationRows(a: LayerActivations, patchIndices: readonly number[]): Float32Array[] {
  return patchIndices.map((p) => a.means.slice(p * a.channels, (p + 1) * a.channels));
}
