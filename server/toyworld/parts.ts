/**
 * The named parts of the toy world. A part is a list of filled shapes (primitives), built from
 * explicit parameters by one of the builders below: no randomness here (scenes.ts draws every
 * value first). `paintPart` composites a part onto an RGB Float32 canvas and records the part's
 * own coverage (its mask before occlusion).
 */
import { forEachCovered, type Primitive, type RGB, type Vec2 } from "./shapes";

/** What a part is to its scene: the object itself, the planted spurious cue, or an irrelevant decoration. */
export type PartRole = "object" | "cue" | "decoration";

export const PART_NAMES = [
  "body",
  "stripes",
  "wings",
  "head",
  "dome",
  "dots",
  "tail",
  "eye",
  "disc",
  "rays",
  "trunk",
  "canopy",
  "window",
  "wheels",
  "flowers",
  "pebbles",
  "cloud",
] as const;
export type PartName = (typeof PART_NAMES)[number];

/** One description line per part, for the docs and the ground-truth file. */
export const PART_DESCRIPTIONS: Record<PartName, string> = {
  body: "the main body: a yellow ellipse (bee), a coloured ellipse (fish), a box with a cabin (car)",
  stripes: "bands clipped to the body: dark on every bee; light or dark on some fish",
  wings: "two pale translucent ellipses above the body (bee)",
  head: "a black head in front of the dome (ladybug)",
  dome: "a red round shell with a black midline (ladybug)",
  dots: "black dots clipped to the dome (ladybug)",
  tail: "a triangle behind the body (fish)",
  eye: "a black dot near the front of the body (fish)",
  disc: "a bright yellow disc (sun)",
  rays: "short thick strokes around the disc (sun)",
  trunk: "a brown vertical bar (tree)",
  canopy: "overlapping green discs above the trunk (tree)",
  window: "a light blue rectangle in the cabin (car)",
  wheels: "two black wheels with grey hubs (car)",
  flowers: "pink five-petal flowers with a yellow centre: the planted cue, beside most bees",
  pebbles: "small grey stones near the bottom, in any class: irrelevant",
  cloud: "a white cloud on sky or plain backgrounds, in any class: irrelevant",
};

export interface ScenePart {
  name: PartName;
  role: PartRole;
  /** Painted in order, each over the previous ones. */
  primitives: Primitive[];
}

/** Horizontal facing: +1 looks right, -1 looks left. */
export type Facing = 1 | -1;

export interface Pose {
  cx: number;
  cy: number;
  /** Scale, about 0.8 .. 1.2. */
  s: number;
  dir: Facing;
}

const BLACK: RGB = [18, 18, 18];

export function beeBody(p: Pose, color: RGB): Primitive[] {
  return [{ shape: { type: "ellipse", cx: p.cx, cy: p.cy, rx: 15 * p.s, ry: 9.5 * p.s, angle: 0 }, color }];
}

export function beeStripes(p: Pose, color: RGB = BLACK): Primitive[] {
  const clip = { type: "ellipse" as const, cx: p.cx, cy: p.cy, rx: 15 * p.s, ry: 9.5 * p.s, angle: 0 };
  return [-7, -1, 5].map((k) => ({
    shape: { type: "rect" as const, cx: p.cx + p.dir * k * p.s, cy: p.cy, w: 3.4 * p.s, h: 20 * p.s, angle: 0 },
    color,
    clip,
  }));
}

export function beeWings(p: Pose, color: RGB, opacity: number): Primitive[] {
  return [
    {
      shape: {
        type: "ellipse",
        cx: p.cx - p.dir * 4 * p.s,
        cy: p.cy - 11 * p.s,
        rx: 5 * p.s,
        ry: 8.5 * p.s,
        angle: -0.35 * p.dir,
      },
      color,
      opacity,
    },
    {
      shape: {
        type: "ellipse",
        cx: p.cx + p.dir * 3 * p.s,
        cy: p.cy - 10 * p.s,
        rx: 4.2 * p.s,
        ry: 7.5 * p.s,
        angle: 0.3 * p.dir,
      },
      color,
      opacity,
    },
  ];
}

export function ladybugHead(p: Pose): Primitive[] {
  return [
    {
      shape: { type: "ellipse", cx: p.cx + p.dir * 11 * p.s, cy: p.cy, rx: 6.5 * p.s, ry: 6 * p.s, angle: 0 },
      color: BLACK,
    },
  ];
}

export function ladybugDome(p: Pose, color: RGB): Primitive[] {
  return [
    { shape: { type: "ellipse", cx: p.cx, cy: p.cy, rx: 12.5 * p.s, ry: 12 * p.s, angle: 0 }, color },
    {
      shape: { type: "segment", x1: p.cx - 12 * p.s, y1: p.cy, x2: p.cx + 12 * p.s, y2: p.cy, width: 1.4 },
      color: BLACK,
    },
  ];
}

/** `spots` are offsets from the pose centre in units of the scale. */
export function ladybugDots(p: Pose, spots: Vec2[], radius: number): Primitive[] {
  const clip = { type: "ellipse" as const, cx: p.cx, cy: p.cy, rx: 12.5 * p.s, ry: 12 * p.s, angle: 0 };
  return spots.map(([dx, dy]) => ({
    shape: {
      type: "ellipse" as const,
      cx: p.cx + dx * p.s,
      cy: p.cy + dy * p.s,
      rx: radius * p.s,
      ry: radius * p.s,
      angle: 0,
    },
    color: BLACK,
    clip,
  }));
}

export function fishBody(p: Pose, color: RGB): Primitive[] {
  return [{ shape: { type: "ellipse", cx: p.cx, cy: p.cy, rx: 13 * p.s, ry: 8 * p.s, angle: 0 }, color }];
}

export function fishTail(p: Pose, color: RGB): Primitive[] {
  const x0 = p.cx - p.dir * 9 * p.s;
  const x1 = p.cx - p.dir * 21 * p.s;
  return [
    {
      shape: {
        type: "polygon",
        points: [
          [x0, p.cy],
          [x1, p.cy - 9 * p.s],
          [x1, p.cy + 9 * p.s],
        ],
      },
      color,
    },
  ];
}

export function fishEye(p: Pose): Primitive[] {
  return [
    {
      shape: { type: "ellipse", cx: p.cx + p.dir * 7 * p.s, cy: p.cy - 2 * p.s, rx: 2 * p.s, ry: 2 * p.s, angle: 0 },
      color: BLACK,
    },
  ];
}

export function fishStripes(p: Pose, color: RGB): Primitive[] {
  const clip = { type: "ellipse" as const, cx: p.cx, cy: p.cy, rx: 13 * p.s, ry: 8 * p.s, angle: 0 };
  return [-5, 1].map((k) => ({
    shape: { type: "rect" as const, cx: p.cx + p.dir * k * p.s, cy: p.cy, w: 2.6 * p.s, h: 18 * p.s, angle: 0 },
    color,
    clip,
  }));
}

export function sunDisc(p: Pose, color: RGB): Primitive[] {
  return [{ shape: { type: "ellipse", cx: p.cx, cy: p.cy, rx: 9 * p.s, ry: 9 * p.s, angle: 0 }, color }];
}

export function sunRays(p: Pose, count: number, phase: number, color: RGB): Primitive[] {
  const out: Primitive[] = [];
  for (let k = 0; k < count; k++) {
    const a = phase + (2 * Math.PI * k) / count;
    const c = Math.cos(a);
    const s = Math.sin(a);
    out.push({
      shape: {
        type: "segment",
        x1: p.cx + 11 * p.s * c,
        y1: p.cy + 11 * p.s * s,
        x2: p.cx + 18 * p.s * c,
        y2: p.cy + 18 * p.s * s,
        width: 2.4 * p.s,
      },
      color,
    });
  }
  return out;
}

export function treeTrunk(p: Pose, color: RGB): Primitive[] {
  return [{ shape: { type: "rect", cx: p.cx, cy: p.cy + 12 * p.s, w: 6 * p.s, h: 24 * p.s, angle: 0 }, color }];
}

/** `blobs` are [dx, dy, r] in units of the scale, relative to the pose centre. */
export function treeCanopy(p: Pose, blobs: [number, number, number][], colors: RGB[]): Primitive[] {
  return blobs.map(([dx, dy, r], i) => ({
    shape: { type: "ellipse" as const, cx: p.cx + dx * p.s, cy: p.cy + dy * p.s, rx: r * p.s, ry: r * p.s, angle: 0 },
    color: colors[i % colors.length]!,
  }));
}

export function carBody(p: Pose, color: RGB): Primitive[] {
  return [
    { shape: { type: "rect", cx: p.cx, cy: p.cy, w: 36 * p.s, h: 12 * p.s, angle: 0 }, color },
    {
      shape: { type: "rect", cx: p.cx - p.dir * 2 * p.s, cy: p.cy - 9 * p.s, w: 19 * p.s, h: 8 * p.s, angle: 0 },
      color,
    },
  ];
}

export function carWindow(p: Pose, color: RGB): Primitive[] {
  return [
    {
      shape: { type: "rect", cx: p.cx - p.dir * 2 * p.s, cy: p.cy - 9 * p.s, w: 13 * p.s, h: 5 * p.s, angle: 0 },
      color,
    },
  ];
}

export function carWheels(p: Pose): Primitive[] {
  const out: Primitive[] = [];
  for (const k of [-10, 10]) {
    const cx = p.cx + k * p.s;
    const cy = p.cy + 6.5 * p.s;
    out.push({ shape: { type: "ellipse", cx, cy, rx: 5 * p.s, ry: 5 * p.s, angle: 0 }, color: BLACK });
    out.push({ shape: { type: "ellipse", cx, cy, rx: 1.8 * p.s, ry: 1.8 * p.s, angle: 0 }, color: [150, 150, 150] });
  }
  return out;
}

export interface Flower {
  x: number;
  y: number;
  /** Distance of the petals from the centre. */
  r: number;
  phase: number;
  petal: RGB;
}

export function flowers(list: Flower[], centre: RGB): Primitive[] {
  const out: Primitive[] = [];
  for (const f of list) {
    for (let k = 0; k < 5; k++) {
      const a = f.phase + (2 * Math.PI * k) / 5;
      out.push({
        shape: {
          type: "ellipse",
          cx: f.x + f.r * Math.cos(a),
          cy: f.y + f.r * Math.sin(a),
          rx: 2.7,
          ry: 2.7,
          angle: 0,
        },
        color: f.petal,
      });
    }
    out.push({ shape: { type: "ellipse", cx: f.x, cy: f.y, rx: 1.9, ry: 1.9, angle: 0 }, color: centre });
  }
  return out;
}

export function pebbles(list: { x: number; y: number; rx: number; ry: number; grey: number }[]): Primitive[] {
  return list.map((q) => ({
    shape: { type: "ellipse" as const, cx: q.x, cy: q.y, rx: q.rx, ry: q.ry, angle: 0 },
    color: [q.grey, q.grey, q.grey - 8] as RGB,
  }));
}

export function cloud(x: number, y: number, s: number, blobs: [number, number, number][]): Primitive[] {
  return blobs.map(([dx, dy, r]) => ({
    shape: { type: "ellipse" as const, cx: x + dx * s, cy: y + dy * s, rx: r * s, ry: r * 0.75 * s, angle: 0 },
    color: [245, 247, 250] as RGB,
    opacity: 0.95,
  }));
}

/**
 * Composites a part's primitives onto `canvas` (RGB, size×size×3, values 0..255) and accumulates
 * the part's own coverage into `alpha` (size×size, 0..1; union of its primitives).
 */
export function paintPart(canvas: Float32Array, alpha: Float32Array, part: ScenePart, size: number): void {
  for (const prim of part.primitives) {
    const opacity = prim.opacity ?? 1;
    const [r, g, b] = prim.color;
    forEachCovered(prim, size, (i, coverage) => {
      const a = coverage * opacity;
      const o = i * 3;
      canvas[o] = canvas[o]! * (1 - a) + r * a;
      canvas[o + 1] = canvas[o + 1]! * (1 - a) + g * a;
      canvas[o + 2] = canvas[o + 2]! * (1 - a) + b * a;
      alpha[i] = alpha[i]! + a * (1 - alpha[i]!);
    });
  }
}
