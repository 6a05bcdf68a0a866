/**
 * Neuron activations on patches: the spatial mean of every channel of every chosen layer, computed
 * in one pass of the network per batch of patches (each layer once per patch, never the prefix
 * again per layer). Dense layers give their units directly.
 */
import type { TensorGraph } from "./model/graph";
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
  const P = patches.length;
  const result: (LayerActivations | null)[] = layerTensors.map(() => null);
  const batches = Math.ceil(P / batchSize);
  for (let b = 0; b < batches; b++) {
    shouldStop?.();
    const idx = Array.from({ length: Math.min(batchSize, P - b * batchSize) }, (_, i) => b * batchSize + i);
    const means = tf.tidy(() => {
      const x = materializePatches(images, patches, idx);
      return graph.run({ [graph.inputName]: x }, layerTensors).map(spatialMean);
    });
    const values = await Promise.all(means.map((m) => m.data()));
    means.forEach((m, li) => {
      const C = m.shape[1];
      const r = (result[li] ??= { means: new Float32Array(P * C), channels: C });
      r.means.set(values[li] as Float32Array, idx[0]! * C);
      m.dispose();
    });
    onBatch?.(b + 1, batches);
  }
  return result.map((r) => r!);
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
