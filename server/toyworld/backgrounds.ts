/**
 * Backgrounds of the toy world, shared between classes (bees, ladybugs and trees on grass; suns,
 * trees and bees under sky; …). Like parts, a background is plain data drawn by scenes.ts and
 * painted here without randomness.
 */
import { forEachCovered, type RGB } from "./shapes";

export const BACKGROUND_KINDS = ["grass", "sky", "water", "road", "plain"] as const;
export type BackgroundKind = (typeof BACKGROUND_KINDS)[number];

export type Background =
  | { kind: "grass"; base: RGB; bladeColor: RGB; blades: [number, number, number, number][] }
  | { kind: "sky"; top: RGB; bottom: RGB }
  | { kind: "water"; deep: RGB; light: RGB; phase: number; period: number }
  | { kind: "road"; verge: RGB; asphalt: RGB; roadTop: number; line: RGB }
  | { kind: "plain"; color: RGB };

function fill(canvas: Float32Array, size: number, row: (y: number) => RGB): void {
  for (let y = 0; y < size; y++) {
    const [r, g, b] = row(y);
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      canvas[o] = r;
      canvas[o + 1] = g;
      canvas[o + 2] = b;
    }
  }
}

function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** Paints the whole canvas (RGB, size×size×3, 0..255). */
export function paintBackground(canvas: Float32Array, bg: Background, size: number): void {
  switch (bg.kind) {
    case "plain":
      fill(canvas, size, () => bg.color);
      return;
    case "sky":
      fill(canvas, size, (y) => mix(bg.top, bg.bottom, y / (size - 1)));
      return;
    case "water":
      fill(canvas, size, (y) => mix(bg.deep, bg.light, 0.5 + 0.5 * Math.sin((2 * Math.PI * y) / bg.period + bg.phase)));
      return;
    case "road":
      fill(canvas, size, (y) => (y >= bg.roadTop ? bg.asphalt : bg.verge));
      for (let x = 2; x < size; x += 12) {
        forEachCovered(
          {
            shape: { type: "rect", cx: x + 3, cy: bg.roadTop + (size - bg.roadTop) / 2, w: 6, h: 1.5, angle: 0 },
            color: bg.line,
          },
          size,
          (i, a) => blend(canvas, i, bg.line, a),
        );
      }
      return;
    case "grass":
      fill(canvas, size, () => bg.base);
      for (const [x, y, dx, dy] of bg.blades) {
        forEachCovered(
          { shape: { type: "segment", x1: x, y1: y, x2: x + dx, y2: y + dy, width: 1 }, color: bg.bladeColor },
          size,
          (i, a) => blend(canvas, i, bg.bladeColor, a),
        );
      }
      return;
  }
}

function blend(canvas: Float32Array, i: number, c: RGB, a: number): void {
  const o = i * 3;
  canvas[o] = canvas[o]! * (1 - a) + c[0] * a;
  canvas[o + 1] = canvas[o + 1]! * (1 - a) + c[1] * a;
  canvas[o + 2] = canvas[o + 2]! * (1 - a) + c[2] * a;
}
