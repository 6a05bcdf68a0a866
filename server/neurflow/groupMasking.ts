/**
 * Masking neuron groups (paper §5.1): zero the member neurons of one or more groups of a circuit
 * layer — or all the layer's core neurons — and compare each image's class probability before and
 * after, next to zeroing as many random neurons of the same layer (several seeded draws). Also
 * lists the dataset patches whose class logit drops most under the mask: what the group "means"
 * to the class.
 */
import type { Circuit } from "./circuitFormat";
import { topIndices } from "./coreNeurons";
import { sampleWithoutReplacement, seededRandom } from "./evaluations/sampling";
import { mean } from "./evaluations/statistics";
import { classProbabilities, layerWidth, maskedLogits, type LayerMask } from "./masking";
import type { ClassifierModel } from "./model/loadModel";
import { materializePatches, type Patch } from "./patches";
import { tf } from "./tf";

export interface GroupMaskingOptions {
  /** Circuit layer pair whose upper layer is masked. */
  layerIndex: number;
  /** Neuron group ids of that layer, or "core" for all its core neurons. */
  groups: number[] | "core";
  draws?: number;
  seed?: number;
  /** How many largest-logit-drop patches to list (0: none). */
  topPatches?: number;
  batchSize?: number;
}

export interface GroupMaskingResult {
  layer: string;
  neurons: number[];
  layerWidth: number;
  /** Per image: class probability before, after masking, and mean after random masking. */
  before: number[];
  after: number[];
  randomAfter: number[];
  means: { before: number; after: number; randomAfter: number };
  /** Patches of the circuit with the largest class-logit drop under the mask. */
  topDropPatches: { patch: number; drop: number }[];
  draws: number;
  seed: number;
}

/** The neurons a masking request names (union of the groups' members, or the layer's core neurons). */
export function maskedNeurons(circuit: Circuit, layerIndex: number, groups: number[] | "core"): number[] {
  const layer = circuit.layers[layerIndex];
  if (!layer) throw new Error(`the circuit has no layer pair ${layerIndex} (it has ${circuit.layers.length})`);
  if (groups === "core") {
    if (layerIndex === 0)
      throw new Error(`layer "${layer.upper}" is the class logit; its core neurons are the logit itself`);
    return layer.targets.map((t) => t.neuron).sort((a, b) => a - b);
  }
  if (groups.length === 0) throw new Error("choose at least one neuron group to mask");
  const set = new Set<number>();
  for (const id of groups) {
    const g = layer.neuronGroups.find((x) => x.id === id);
    if (!g)
      throw new Error(
        `layer "${layer.upper}" has no neuron group ${id} (it has ${layer.neuronGroups.map((x) => x.id).join(", ")})`,
      );
    g.members.forEach((m) => set.add(m.neuron));
  }
  return [...set].sort((a, b) => a - b);
}

export async function maskGroups(
  circuit: Circuit,
  model: ClassifierModel,
  images: tf.Tensor4D,
  options: GroupMaskingOptions,
  patchSource?: { images: tf.Tensor4D; patches: readonly Patch[] },
): Promise<GroupMaskingResult> {
  const layerName = circuit.layers[options.layerIndex]?.upper;
  const neurons = maskedNeurons(circuit, options.layerIndex, options.groups);
  const draws = options.draws ?? 5;
  const seed = options.seed ?? 0;
  const cls = circuit.class.index;
  const width = layerWidth(model, images, layerName!);
  const prob = async (masks: LayerMask[]) =>
    Array.from(classProbabilities(await maskedLogits(model, images, masks, options.batchSize), cls));
  const before = await prob([]);
  const after = await prob([{ layer: layerName!, channels: neurons, mode: "mask" }]);
  const random = seededRandom(seed >>> 0);
  const sums = new Array<number>(before.length).fill(0);
  for (let d = 0; d < draws; d++) {
    const r = await prob([
      { layer: layerName!, channels: sampleWithoutReplacement(width, neurons.length, random), mode: "mask" },
    ]);
    r.forEach((v, i) => (sums[i]! += v));
  }
  const randomAfter = sums.map((s) => s / Math.max(draws, 1));
  let topDropPatches: GroupMaskingResult["topDropPatches"] = [];
  const wanted = options.topPatches ?? 10;
  if (patchSource && wanted > 0) {
    const P = patchSource.patches.length;
    const drop = new Float32Array(P);
    const bs = options.batchSize ?? 64;
    for (let i = 0; i < P; i += bs) {
      const idx = Array.from({ length: Math.min(bs, P - i) }, (_, j) => i + j);
      const x = materializePatches(patchSource.images, patchSource.patches, idx);
      const [a, b] = await Promise.all([
        maskedLogits(model, x, [], bs),
        maskedLogits(model, x, [{ layer: layerName!, channels: neurons, mode: "mask" }], bs),
      ]);
      x.dispose();
      idx.forEach((p, j) => (drop[p] = a.logits[j * a.classes + cls]! - b.logits[j * b.classes + cls]!));
    }
    topDropPatches = topIndices(drop, Math.min(wanted, P)).map((p) => ({ patch: p, drop: drop[p]! }));
  }
  return {
    layer: layerName!,
    neurons,
    layerWidth: width,
    before,
    after,
    randomAfter,
    means: { before: mean(before), after: mean(after), randomAfter: mean(randomAfter) },
    topDropPatches,
    draws,
    seed,
  };
}
