/**
 * Rendering: scene description → size×size RGB pixels + one visibility mask per part.
 *
 * The background is painted, then each part in order over it; then Gaussian noise from the
 * scene's own noise seed is added, and values are rounded and clamped to 0..255. `omit` leaves
 * parts out: since the noise field and every other part are the same, only pixels inside the
 * omitted part's mask can change.
 *
 * A part's mask = the pixels where it is visible at all in the full render: its coverage times
 * the transparency of everything painted above it is > 0 (antialiased edges included).
 */
import { paintBackground } from "./backgrounds";
import { paintPart, type PartName, type PartRole } from "./parts";
import { Rng } from "./random";
import type { Scene } from "./scenes";

export interface RenderedPart {
  name: PartName;
  role: PartRole;
  /** size×size, 1 where the part is visible. */
  mask: Uint8Array;
  /** Visible pixels. */
  area: number;
  /** [x0, y0, x1, y1], x1/y1 exclusive; null when the part is entirely hidden. */
  box: [number, number, number, number] | null;
}

export interface Rendered {
  size: number;
  /** RGB, row-major, size×size×3. */
  pixels: Uint8Array;
  parts: RenderedPart[];
}

export interface RenderOptions {
  /** Parts to leave out (by name). */
  omit?: readonly PartName[];
}

function boxOf(mask: Uint8Array, size: number): [number, number, number, number] | null {
  let x0 = size;
  let y0 = size;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!mask[y * size + x]) continue;
      if (x < x0) x0 = x;
      if (y < y0) y0 = y;
      if (x > x1) x1 = x;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

export function renderScene(scene: Scene, options: RenderOptions = {}): Rendered {
  const size = scene.size;
  const n = size * size;
  const omit = new Set(options.omit ?? []);
  const canvas = new Float32Array(n * 3);
  paintBackground(canvas, scene.background, size);
  const painted = scene.parts.filter((p) => !omit.has(p.name));
  const alphas = painted.map((part) => {
    const alpha = new Float32Array(n);
    paintPart(canvas, alpha, part, size);
    return alpha;
  });

  // visibility: walk from the top part down, tracking how much of each pixel is still uncovered
  const open = new Float32Array(n).fill(1);
  const parts: RenderedPart[] = new Array(painted.length);
  for (let k = painted.length - 1; k >= 0; k--) {
    const alpha = alphas[k]!;
    const mask = new Uint8Array(n);
    let area = 0;
    for (let i = 0; i < n; i++) {
      if (alpha[i]! > 0 && open[i]! > 0) {
        mask[i] = 1;
        area++;
      }
      open[i] = open[i]! * (1 - alpha[i]!);
    }
    parts[k] = { name: painted[k]!.name, role: painted[k]!.role, mask, area, box: boxOf(mask, size) };
  }

  const rng = new Rng(scene.noise.seed);
  const pixels = new Uint8Array(n * 3);
  for (let i = 0; i < n * 3; i++) {
    const v = Math.round(canvas[i]! + rng.normal(0, scene.noise.sigma));
    pixels[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { size, pixels, parts };
}

/**
 * Run-length encoding of a 0/1 mask, row-major: counts of alternating runs, starting with a run
 * of zeros (which may be 0 long). Sums to the number of pixels.
 */
export function encodeMask(mask: Uint8Array): number[] {
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i] ? 1 : 0;
    if (v === current) run++;
    else {
      counts.push(run);
      current = v;
      run = 1;
    }
  }
  counts.push(run);
  return counts;
}

export function decodeMask(counts: readonly number[], length: number): Uint8Array {
  const mask = new Uint8Array(length);
  let i = 0;
  counts.forEach((c, k) => {
    if (k % 2 === 1) mask.fill(1, i, i + c);
    i += c;
  });
  if (i !== length) throw new Error(`mask run lengths sum to ${i}, expected ${length}`);
  return mask;
}
