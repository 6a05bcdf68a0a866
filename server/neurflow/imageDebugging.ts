/**
 * Image debugging (paper §5.1): which concepts of a layer does an image show? For every neuron
 * group of a circuit layer, metric M on each multi-granularity crop of the image (the circuit's own
 * granularities and stride); the image's score for a group is its best crop. Returns the groups by
 * descending score with the crops that score highest, and the model's prediction for the image.
 */
import { computeActivations } from "./activations";
import type { Circuit } from "./circuitFormat";
import { groupReferences, metricMOfCrops } from "./metricM";
import type { ClassifierModel } from "./model/loadModel";
import { classProbabilities, maskedLogits } from "./masking";
import { patchGrid, type Patch } from "./patches";
import type { tf } from "./tf";

export interface ImageDebugOptions {
  /** Circuit layer pair whose upper layer's neuron groups are scored. */
  layerIndex: number;
  /** Crops per group to return (best first). */
  topCrops?: number;
  /** Crops scoring at least this are marked as showing the concept (the authors' default 0.6). */
  threshold?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface CropScore {
  /** [x, y, size] in pixels of the model-size image. */
  crop: [number, number, number];
  score: number;
}

export interface GroupScore {
  groupId: number;
  /** Metric M of the image (its best crop). */
  score: number;
  /** Crops at or above the threshold. */
  cropsAbove: number;
  topCrops: CropScore[];
}

export interface DebuggedImage {
  /** Predicted class and the class probability of the circuit's class. */
  predicted: number;
  classProbability: number;
  groups: GroupScore[];
}

export interface ImageDebugResult {
  layer: string;
  threshold: number;
  images: DebuggedImage[];
}

export async function debugImages(
  circuit: Circuit,
  model: ClassifierModel,
  images: tf.Tensor4D,
  options: ImageDebugOptions,
): Promise<ImageDebugResult> {
  const layer = circuit.layers[options.layerIndex];
  if (!layer) throw new Error(`the circuit has no layer pair ${options.layerIndex} (it has ${circuit.layers.length})`);
  if (layer.neuronGroups.length === 0) throw new Error(`layer "${layer.upper}" has no neuron groups`);
  const threshold = options.threshold ?? 0.6;
  const topCrops = options.topCrops ?? 5;
  const N = images.shape[0];
  const S = images.shape[1];
  const patches: Patch[] = patchGrid(N, S, circuit.params.granularities, circuit.params.strideRatio);
  const [acts] = await computeActivations(
    model.graph,
    images,
    patches,
    [model.layerTensor(layer.upper)],
    options.batchSize ?? 64,
    options.onProgress,
  );
  const refs = groupReferences(circuit, options.layerIndex);
  const inputOf = patches.map((p) => p[0]);
  const scores = refs.map((ref) => ({ ref, ...metricMOfCrops(acts!.means, acts!.channels, ref, inputOf, N) }));
  const pred = await maskedLogits(model, images, [], options.batchSize);
  const probs = classProbabilities(pred, circuit.class.index);
  const out: DebuggedImage[] = [];
  for (let i = 0; i < N; i++) {
    const rows = patches.flatMap((p, r) => (p[0] === i ? [r] : []));
    const groups = scores.map(({ ref, perInput, perRow }) => {
      const ranked = [...rows].sort((a, b) => perRow[b]! - perRow[a]! || a - b);
      return {
        groupId: ref.groupId,
        score: perInput[i]!,
        cropsAbove: rows.filter((r) => perRow[r]! >= threshold).length,
        topCrops: ranked.slice(0, topCrops).map((r) => ({
          crop: [patches[r]![1], patches[r]![2], patches[r]![3]] as [number, number, number],
          score: perRow[r]!,
        })),
      };
    });
    groups.sort((a, b) => b.score - a.score || a.groupId - b.groupId);
    let predicted = 0;
    for (let c = 1; c < pred.classes; c++)
      if (pred.logits[i * pred.classes + c]! > pred.logits[i * pred.classes + predicted]!) predicted = c;
    out.push({ predicted, classProbability: probs[i]!, groups });
  }
  return { layer: layer.upper, threshold, images: out };
}
