/**
 * Writing a dataset folder:
 *
 *   DIR/<class>/<0000>.png   64×64 RGB scenes, one folder per class
 *   DIR/ground-truth.json    per image: seed, class, cue, background, parts (box, area, mask)
 *
 * Masks are run-length encoded (see `encodeMask` in render.ts: row-major, alternating runs of 0
 * and 1, starting with 0s). Every image can be re-rendered exactly from its `seed`, its class
 * and the world options stored at the top of the file: `drawScene(class, seed, world)`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { createProgressBar } from "../neurflow/light";
import { PART_DESCRIPTIONS, type PartName, type PartRole } from "./parts";
import { deriveSeed } from "./random";
import { encodeMask, renderScene, type Rendered } from "./render";
import {
  CLASS_PARTS,
  CLASSES,
  CUE_CLASS,
  CUE_PART,
  DEFAULT_WORLD,
  drawScene,
  type ClassName,
  type WorldOptions,
} from "./scenes";
import type { WorldDefinition } from "./world";

export const GROUND_TRUTH_FORMAT = "toyworld-ground-truth/1";

export interface GroundTruthPart {
  name: PartName;
  role: PartRole;
  /** [x0, y0, x1, y1] in pixels, x1 and y1 exclusive. */
  box: [number, number, number, number];
  /** Visible pixels. */
  area: number;
  /** Run-length encoded visibility mask (size×size, row-major, runs start with 0s). */
  mask: number[];
}

export interface GroundTruthImage {
  /** Path relative to the dataset folder. */
  file: string;
  class: ClassName;
  seed: number;
  background: string;
  /** The planted cue (flowers) is visible in the image. */
  cue: boolean;
  /** Visible parts, in painting order. */
  parts: GroundTruthPart[];
}

export interface GroundTruth {
  format: typeof GROUND_TRUTH_FORMAT;
  seed: number;
  size: number;
  world: WorldOptions;
  classes: ClassName[];
  cue: { class: ClassName; part: PartName };
  classParts: Record<ClassName, PartName[]>;
  partDescriptions: Record<string, string>;
  images: GroundTruthImage[];
}

export function imageSeed(datasetSeed: number, cls: ClassName, index: number): number {
  return deriveSeed(datasetSeed, "dataset", cls, index);
}

export function groundTruthParts(r: Rendered): GroundTruthPart[] {
  return r.parts
    .filter((p) => p.area > 0 && p.box)
    .map((p) => ({ name: p.name, role: p.role, box: p.box!, area: p.area, mask: encodeMask(p.mask) }));
}

export async function pngBytes(r: Rendered): Promise<Buffer> {
  return sharp(Buffer.from(r.pixels), { raw: { width: r.size, height: r.size, channels: 3 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

export interface GenerateOptions {
  out: string;
  perClass: number;
  seed: number;
  /** The world the scenes are drawn from (the default world where not given). */
  world?: Partial<WorldDefinition>;
  quiet?: boolean;
}

export async function generateDataset(o: GenerateOptions): Promise<{
  images: number;
  cueImages: number;
  cueClassImages: number;
  cueInCueClass: number;
  groundTruth: GroundTruth;
}> {
  const world: WorldOptions = { ...DEFAULT_WORLD, ...o.world };
  mkdirSync(o.out, { recursive: true });
  const bar = o.quiet ? null : createProgressBar("generate", CLASSES.length * o.perClass);
  const images: GroundTruthImage[] = [];
  const digits = Math.max(4, String(o.perClass - 1).length);
  for (const cls of CLASSES) {
    mkdirSync(join(o.out, cls), { recursive: true });
    for (let i = 0; i < o.perClass; i++) {
      const seed = imageSeed(o.seed, cls, i);
      const scene = drawScene(cls, seed, world);
      const r = renderScene(scene);
      const file = `${cls}/${String(i).padStart(digits, "0")}.png`;
      writeFileSync(join(o.out, file), await pngBytes(r));
      const parts = groundTruthParts(r);
      images.push({
        file,
        class: cls,
        seed,
        background: scene.background.kind,
        cue: parts.some((p) => p.name === CUE_PART),
        parts,
      });
      bar?.tick(1, cls);
    }
  }
  bar?.done();
  const groundTruth: GroundTruth = {
    format: GROUND_TRUTH_FORMAT,
    seed: o.seed,
    size: world.size,
    world,
    classes: [...CLASSES],
    cue: { class: CUE_CLASS, part: CUE_PART },
    classParts: CLASS_PARTS,
    partDescriptions: PART_DESCRIPTIONS,
    images,
  };
  writeFileSync(join(o.out, "ground-truth.json"), JSON.stringify(groundTruth));
  const cueClass = images.filter((im) => im.class === CUE_CLASS);
  return {
    images: images.length,
    cueImages: images.filter((im) => im.cue).length,
    cueClassImages: cueClass.length,
    cueInCueClass: cueClass.filter((im) => im.cue).length,
    groundTruth,
  };
}
