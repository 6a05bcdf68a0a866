/**
 * The scenes the recovery checks run on, all drawn fresh from a seed in the model's own world:
 *   - circuit: scenes of the cue class as the model saw them in training (cue in most, far bees in
 *     some), the images NeurFlow explains;
 *   - pairs: scenes of the cue class drawn with the cue, each rendered twice — with it and with it
 *     left out (only the cue's pixels differ), so cue-present and cue-absent images are the same
 *     bees;
 *   - labels: scenes of the cue class with the cue and every decoration drawn, for
 *     leave-one-part-out neuron labels;
 *   - fidelity: scenes of a class, for the class accuracy under masking.
 */
import { type DecodedImages, tf, type ClassifierModel } from "../neurflow";
import type { ImageParts } from "./conceptParts";
import type { PartName } from "./parts";
import { deriveSeed } from "./random";
import { renderScene } from "./render";
import { CUE_CLASS, drawScene, type ClassName, type Scene, type WorldOptions } from "./scenes";

export type SceneSet = "circuit" | "pairs" | "labels" | "fidelity";

export function recoveryScenes(
  set: SceneSet,
  cls: ClassName,
  count: number,
  seed: number,
  world: WorldOptions,
): Scene[] {
  const w: WorldOptions =
    set === "pairs" ? { ...world, cueRate: 1 } : set === "labels" ? { ...world, cueRate: 1, decorationRate: 1 } : world;
  if ((set === "pairs" || set === "labels") && cls !== CUE_CLASS)
    throw new Error(`the ${set} scenes are of the cue class`);
  return Array.from({ length: count }, (_, i) => drawScene(cls, deriveSeed(seed, "recovery", set, cls, i), w));
}

/** Whether the scene's object is far away and tiny (scale below 0.5). */
export const isFar = (s: Scene) => s.pose.s < 0.5;

/** Renders scenes as decoded images for the engine (names `<prefix>-0000.png`, …), with their part masks. */
export function decodedScenes(
  scenes: readonly Scene[],
  prefix: string,
  omit: readonly PartName[] = [],
): { images: DecodedImages; parts: ImageParts[] } {
  const S = scenes[0]?.size ?? 64;
  const pixels = new Uint8Array(scenes.length * S * S * 3);
  const parts: ImageParts[] = [];
  scenes.forEach((s, i) => {
    const r = renderScene(s, { omit });
    pixels.set(r.pixels, i * S * S * 3);
    parts.push({ size: S, parts: r.parts.map((p) => ({ name: p.name, mask: p.mask })) });
  });
  const digits = Math.max(4, String(scenes.length - 1).length);
  const names = scenes.map((_, i) => `${prefix}-${String(i).padStart(digits, "0")}.png`);
  return { images: { names, pixels, size: S }, parts };
}

/** The model's normalised input batch [n, S, S, 3] of rendered scenes. */
export function scenesInput(
  model: ClassifierModel,
  scenes: readonly Scene[],
  omit: readonly PartName[] = [],
): tf.Tensor4D {
  const S = scenes[0]?.size ?? 64;
  const pixels = new Float32Array(scenes.length * S * S * 3);
  scenes.forEach((s, i) => pixels.set(renderScene(s, { omit }).pixels, i * S * S * 3));
  return tf.tidy(() => model.preprocess(tf.tensor4d(pixels, [scenes.length, S, S, 3])));
}
