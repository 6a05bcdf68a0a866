/**
 * Cue channels: which channels of a layer respond to the planted cue alone, and what zeroing them
 * does. Independent of NeurFlow — it asks the ground truth directly — so it says what the masking
 * claim of the recovery checks can expect from a model:
 *
 *   - each channel is labelled leave-one-part-out (partLabels.ts) on bees drawn with the cue;
 *   - a channel is **cue-only** when removing the cue lowers its activation by at least
 *     `minDrop` and removing any of the class's own parts by less than `maxShare` of that;
 *   - the cue-only channels of the layer are zeroed together (NeurFlow's masking) on cue pairs
 *     (the same bees with and without the cue), and the class probability and logit compared.
 *
 * If zeroing channels that ignore the class's own parts still lowers the class more on cue-absent
 * images than on cue-present ones, no group of whole channels can make the masking claim hold:
 * zeroing a block output removes its resting activation too, not only what the cue adds.
 */
import {
  mean,
  classProbabilities,
  layerWidth,
  maskedLogits,
  type LayerMask,
  type ClassifierModel,
  type tf,
} from "../neurflow";
import { labelNeuronsByParts } from "./partLabels";
import type { PartName } from "./parts";
import { recoveryScenes, scenesInput } from "./recoveryScenes";
import { CLASS_PARTS, CUE_CLASS, CUE_PART, type WorldOptions } from "./scenes";

export const CUE_ONLY = { minDrop: 0.1, maxShare: 0.25 } as const;

export interface ZeroingEffect {
  /** Mean class probability and logit before and after zeroing. */
  before: { p: number; logit: number };
  after: { p: number; logit: number };
}

export interface CueChannelsOfLayer {
  layer: string;
  width: number;
  /** Channels whose largest leave-one-part-out drop is the cue's. */
  cueLed: number;
  /** Channels that respond to the cue alone (CUE_ONLY). */
  cueOnly: number[];
  /** Zeroing the cue-only channels, on cue-present and on cue-absent images (null when there are none). */
  zeroing: { present: ZeroingEffect; absent: ZeroingEffect } | null;
}

export interface CueChannelsOptions {
  layers: string[];
  /** Scenes for the labels and cue pairs. */
  perClass: number;
  seed: number;
  world: WorldOptions;
  onProgress?: (fraction: number, message: string) => void;
}

async function classOutputs(
  model: ClassifierModel,
  input: tf.Tensor4D,
  classIndex: number,
  masks: LayerMask[],
): Promise<{ p: number; logit: number }> {
  const pred = await maskedLogits(model, input, masks);
  const N = pred.logits.length / pred.classes;
  const logits = Array.from({ length: N }, (_, r) => pred.logits[r * pred.classes + classIndex]!);
  return { p: mean(classProbabilities(pred, classIndex)), logit: mean(logits) };
}

export async function cueChannels(model: ClassifierModel, o: CueChannelsOptions): Promise<CueChannelsOfLayer[]> {
  const classIndex = model.manifest.classes.indexOf(CUE_CLASS);
  if (classIndex < 0) throw new Error(`the model has no class "${CUE_CLASS}"`);
  const objectParts = CLASS_PARTS[CUE_CLASS];
  const parts: PartName[] = [...objectParts, CUE_PART];
  const labelScenes = recoveryScenes("labels", CUE_CLASS, o.perClass, o.seed, o.world);
  const pairs = recoveryScenes("pairs", CUE_CLASS, o.perClass, o.seed, o.world);
  const present = scenesInput(model, pairs);
  const absent = scenesInput(model, pairs, [CUE_PART]);
  try {
    const out: CueChannelsOfLayer[] = [];
    for (const [li, layer] of o.layers.entries()) {
      o.onProgress?.(li / o.layers.length, `labelling the channels of ${layer}`);
      const width = layerWidth(model, present, layer);
      const labels = await labelNeuronsByParts(
        model,
        layer,
        Array.from({ length: width }, (_, i) => i),
        labelScenes,
        parts,
      );
      const cueOnly = labels
        .filter((n) => {
          const cue = n.drops[CUE_PART]?.drop ?? 0;
          const own = Math.max(...objectParts.map((p) => n.drops[p]?.drop ?? 0));
          return cue >= CUE_ONLY.minDrop && own < CUE_ONLY.maxShare * cue;
        })
        .map((n) => n.neuron);
      let zeroing: CueChannelsOfLayer["zeroing"] = null;
      if (cueOnly.length) {
        o.onProgress?.((li + 0.8) / o.layers.length, `zeroing the cue-only channels of ${layer}`);
        const mask: LayerMask[] = [{ layer, channels: cueOnly, mode: "mask" }];
        const side = async (input: tf.Tensor4D) => ({
          before: await classOutputs(model, input, classIndex, []),
          after: await classOutputs(model, input, classIndex, mask),
        });
        zeroing = { present: await side(present), absent: await side(absent) };
      }
      out.push({ layer, width, cueLed: labels.filter((n) => n.label === CUE_PART).length, cueOnly, zeroing });
    }
    o.onProgress?.(1, "done");
    return out;
  } finally {
    present.dispose();
    absent.dispose();
  }
}

export function formatCueChannels(rows: readonly CueChannelsOfLayer[], perClass: number): string {
  const f = (v: number, d = 3) => v.toFixed(d);
  const L = [
    `channels of each layer on ${perClass} ${CUE_CLASS}s drawn with ${CUE_PART} (leave-one-part-out); cue-only: ${CUE_PART} lowers it by ≥ ${CUE_ONLY.minDrop}, each ${CUE_CLASS} part by < ${CUE_ONLY.maxShare * 100}% of that`,
    `zeroing all cue-only channels of the layer, mean over the same ${CUE_CLASS}s with / without ${CUE_PART}:`,
    "  layer      channels  cue-led  cue-only   P with: before → after (drop)   P without: before → after (drop)   logit drop with / without",
  ];
  for (const r of rows) {
    const z = r.zeroing;
    const effect = z
      ? `${f(z.present.before.p)} → ${f(z.present.after.p)} (${f(z.present.before.p - z.present.after.p)})     ${f(z.absent.before.p)} → ${f(z.absent.after.p)} (${f(z.absent.before.p - z.absent.after.p)})      ${f(z.present.before.logit - z.present.after.logit, 2)} / ${f(z.absent.before.logit - z.absent.after.logit, 2)}`
      : "(no cue-only channel)";
    L.push(
      `  ${r.layer.padEnd(9)}  ${String(r.width).padStart(8)}  ${String(r.cueLed).padStart(7)}  ${String(r.cueOnly.length).padStart(8)}   ${effect}`,
    );
  }
  return L.join("\n");
}
