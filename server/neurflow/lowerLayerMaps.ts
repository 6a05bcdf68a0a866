/**
 * The lower-layer maps integrated gradients starts from (the full maps of a pair's lower layer, per
 * patch): which layers the activation pass keeps for every patch, within the maps budget, and, for
 * the others, the maps of the patches a pair's targets need, computed once for the pair.
 */
import { computeLayerMaps } from "./activations";
import type { ClassifierModel } from "./model/loadModel";
import type { Patch } from "./patches";
import type { AttributionKernels, LayerMaps } from "./targetAttribution";
import type { tf } from "./tf";

/**
 * The lower layers whose full maps the activation pass keeps for every patch: the pairs' lower
 * layers in pair order (from the top, where maps are small and the network up to them is long),
 * while all of them fit the budget together. The others are computed per pair, for the patches
 * their targets need.
 */
export function mapsToKeep(
  lowerTensors: readonly string[],
  shapeOf: (t: string) => readonly number[],
  patches: number,
  budgetBytes: number,
): string[] {
  const keep: string[] = [];
  let bytes = 0;
  for (const t of lowerTensors) {
    bytes += shapeOf(t).reduce((a, b) => a * b, 1) * patches * 4;
    if (bytes > budgetBytes) break;
    keep.push(t);
  }
  return keep;
}

/**
 * The lower-layer maps of the given patches, computed once in batches into shared memory (so worker
 * threads read them without copies); null when they would exceed the budget.
 */
export async function sharedLayerMaps(
  model: ClassifierModel,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  needed: number[],
  lowerTensor: string,
  batchSize: number,
  budgetBytes: number,
  kernels: AttributionKernels | null,
): Promise<LayerMaps | null> {
  needed.sort((a, b) => a - b);
  let rowShape: number[] = [];
  let data: Float32Array | null = null;
  for (let i = 0; i < needed.length; i += batchSize) {
    const t = kernels?.layerMaps
      ? await kernels.layerMaps(needed.slice(i, i + batchSize), lowerTensor)
      : computeLayerMaps(model.graph, images, patches, needed.slice(i, i + batchSize), lowerTensor, batchSize);
    if (!data) {
      // the first batch tells the row size, and so whether the whole set fits the budget
      rowShape = t.shape.slice(1);
      const bytes = needed.length * rowShape.reduce((a, b) => a * b, 1) * 4;
      if (bytes > budgetBytes) {
        t.dispose();
        return null;
      }
      data = new Float32Array(new SharedArrayBuffer(bytes));
    }
    data.set((await t.data()) as Float32Array, i * (data.length / needed.length));
    t.dispose();
  }
  if (!data) return null;
  const rowOf = new Int32Array(patches.length).fill(-1);
  needed.forEach((p, i) => (rowOf[p] = i));
  return { lowerTensor, rowShape, rowOf, data };
}
