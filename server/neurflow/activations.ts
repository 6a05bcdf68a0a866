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
  return (await computeActivationsKeepingMaps(graph, images, patches, layerTensors, [], batchSize, onBatch, shouldStop)).activations;
}

/**
 * The activations, and — from the same forward passes — the full maps of the layers in `keep`
 * (every patch, in patch order, in shared memory for the attribution workers), so that no later
 * step runs the network up to those layers again.
 */
export async function computeActivationsKeepingMaps(
  graph: TensorGraph,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  layerTensors: readonly string[],
  keep: readonly string[],
  batchSize: number,
  onBatch?: (done: number, total: number) => void,
  shouldStop?: () => void,
): Promise<{ activations: LayerActivations[]; maps: Map<string, LayerMaps> }> {
  const P = patches.length;
  const result: (LayerActivations | null)[] = layerTensors.map(() => null);
  const maps = new Map<string, LayerMaps>();
  const outputs = [...layerTensors, ...keep.filter((t) => !layerTensors.includes(t))];
  const batches = Math.ceil(P / batchSize);
  for (let b = 0; b < batches; b++) {
    shouldStop?.();
    const idx = Array.from({ length: Math.min(batchSize, P - b * batchSize) }, (_, i) => b * batchSize + i);
    const { means, full } = tf.tidy(() => {
      const x = materializePatches(images, patches, idx);
      const outs = graph.run({ [graph.inputName]: x }, outputs);
      return { means: outs.slice(0, layerTensors.length).map(spatialMean), full: keep.map((t) => outs[outputs.indexOf(t)]!) };
    });
    const [values, fullValues] = await Promise.all([Promise.all(means.map((m) => m.data())), Promise.all(full.map((m) => m.data()))]);
    means.forEach((m, li) => {
      const C = m.shape[1];
      const r = (result[li] ??= { means: new Float32Array(P * C), channels: C });
      r.means.set(values[li] as Float32Array, idx[0]! * C);
      m.dispose();
    });
    full.forEach((m, ki) => {
      const rowShape = m.shape.slice(1);
      const rowSize = rowShape.reduce((a, c) => a * c, 1);
      let entry = maps.get(keep[ki]!);
      if (!entry) {
        const rowOf = Int32Array.from({ length: P }, (_, i) => i);
        entry = { lowerTensor: keep[ki]!, rowShape, rowOf, data: new Float32Array(new SharedArrayBuffer(P * rowSize * 4)) };
        maps.set(keep[ki]!, entry);
      }
      entry.data.set(fullValues[ki] as Float32Array, idx[0]! * rowSize);
      m.dispose();
    });
    onBatch?.(b + 1, batches);
  }
  return { activations: result.map((r) => r!), maps };
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
