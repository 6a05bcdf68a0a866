/**
 * Model inputs from scenes: render, then pixels / 255 normalised with the ImageNet mean and std,
 * NHWC float32 — the same preprocessing the manifest declares.
 */
import { tf } from "../neurflow";
import type { PartName } from "./parts";
import { renderScene } from "./render";
import type { Scene } from "./scenes";

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** Normalises RGB bytes (n images × size × size × 3) into `out` starting at image `offset`. */
export function normalizeInto(pixels: Uint8Array, out: Float32Array, offset: number): void {
  const base = offset * pixels.length;
  for (let i = 0; i < pixels.length; i++) {
    const c = i % 3;
    out[base + i] = (pixels[i]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
  }
}

/** Renders the scenes (optionally with parts left out) into one normalised [n, size, size, 3] tensor. */
export function scenesToTensor(scenes: readonly Scene[], omit: readonly PartName[] = []): tf.Tensor4D {
  const size = scenes[0]?.size ?? 64;
  const out = new Float32Array(scenes.length * size * size * 3);
  scenes.forEach((s, i) => normalizeInto(renderScene(s, { omit }).pixels, out, i));
  return tf.tensor4d(out, [scenes.length, size, size, 3]);
}

/** Logits of `model` on the scenes, in batches. */
export function predictLogits(
  model: tf.LayersModel,
  scenes: readonly Scene[],
  omit: readonly PartName[] = [],
  batch = 64,
): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < scenes.length; i += batch) {
    const x = scenesToTensor(scenes.slice(i, i + batch), omit);
    const y = model.predict(x) as tf.Tensor2D;
    rows.push(...(y.arraySync() as number[][]));
    x.dispose();
    y.dispose();
  }
  return rows;
}

export function argmax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}
