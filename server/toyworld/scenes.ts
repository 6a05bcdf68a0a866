/**
 * Scenes: each class is a composition of named parts on a background. `drawScene` draws EVERY
 * random value of a scene (pose, colours, part layout, cue, decorations, noise seed) into a plain
 * description object before anything is painted, so a scene can be re-rendered from its seed
 * with a part left out and only that part's pixels change.
 */
import type { Background, BackgroundKind } from "./backgrounds";
import * as P from "./parts";
import type { PartName, Pose, ScenePart } from "./parts";
import { Rng } from "./random";
import type { RGB, Vec2 } from "./shapes";

export const CLASSES = ["bee", "ladybug", "fish", "sun", "tree", "car"] as const;
export type ClassName = (typeof CLASSES)[number];

/** The class that carries the planted cue, and the cue part. */
export const CUE_CLASS: ClassName = "bee";
export const CUE_PART: PartName = "flowers";

/** The parts that define each class (always present), in painting order. */
export const CLASS_PARTS: Record<ClassName, PartName[]> = {
  bee: ["body", "stripes", "wings"],
  ladybug: ["head", "dome", "dots"],
  fish: ["tail", "body", "eye"],
  sun: ["rays", "disc"],
  tree: ["trunk", "canopy"],
  car: ["body", "window", "wheels"],
};

/** Parts some scenes of a class have besides its defining parts (not needed to recognise it). */
export const OPTIONAL_PARTS: Partial<Record<ClassName, PartName[]>> = { fish: ["stripes"] };

/** Every background serves at least two classes, so no class can be told by its background alone. */
export const CLASS_BACKGROUNDS: Record<ClassName, BackgroundKind[]> = {
  bee: ["grass", "sky", "plain"],
  ladybug: ["grass", "plain"],
  fish: ["water", "plain"],
  sun: ["sky", "water"],
  tree: ["grass", "sky", "road"],
  car: ["road", "plain"],
};

/**
 * Probability that a bee is far away and tiny (scale 0.28–0.45: a body of 8–14 px whose stripes
 * are a pixel wide), so that its own parts are weak evidence and the flowers beside it are the
 * strongest hint — as in photographs of bees on flowers.
 */
export const FAR_BEE_RATE = 0.3;

/** Default scale range of a far (tiny) object. */
export const FAR_SCALE: [number, number] = [0.28, 0.45];

export interface WorldOptions {
  /** Side of the square image. */
  size: number;
  /** Probability that a bee scene has flowers (the planted cue). */
  cueRate: number;
  /** Probability that a scene of any other class has flowers. */
  cueRateElsewhere: number;
  /**
   * Per-class exceptions to `cueRateElsewhere` (not the cue class). With flowers beside many trees
   * too, flowers stop being bee evidence alone: the classifier must read them apart from the bee's
   * own parts, so its late layers keep them in channels of their own.
   */
  cueRateIn: Partial<Record<ClassName, number>>;
  /** Probability of the irrelevant decorations (pebbles; a cloud on sky and plain backgrounds). */
  decorationRate: number;
  /**
   * Probability that the object of a class other than the cue class is far away and tiny, like
   * FAR_BEE_RATE for bees. At 0, an almost empty scene can only be a far bee, so the cue class
   * becomes the model's answer for "nothing recognisable" and its cue is never needed.
   */
  farRateElsewhere: number;
  /** Scale range [lo, hi) of far objects (near ones are 0.8–1.2). */
  farScale: [number, number];
  /** Probability that a bee (the cue class) is far away and tiny. */
  farRate: number;
  /**
   * Colour of the flowers' centres. The default yellow is the bee body's colour, so a unit can
   * answer "small yellow blob" to both a tiny bee and a flower; a colour no object has keeps the
   * cue's pixels apart from the class's own.
   */
  flowerCentre: RGB;
}

/** Default colour of the flowers' centres (close to the bee body's yellow). */
export const FLOWER_CENTRE: RGB = [250, 215, 60];

export const DEFAULT_WORLD: WorldOptions = {
  size: 64,
  cueRate: 0.8,
  cueRateElsewhere: 0.05,
  cueRateIn: {},
  decorationRate: 0.4,
  farRateElsewhere: 0,
  farScale: FAR_SCALE,
  farRate: FAR_BEE_RATE,
  flowerCentre: FLOWER_CENTRE,
};

export interface Scene {
  seed: number;
  className: ClassName;
  size: number;
  pose: Pose;
  background: Background;
  /** Painting order: decorations, then the cue, then the object's parts. */
  parts: ScenePart[];
  /** Whether the flowers were drawn into the scene (they may still be partly hidden). */
  cue: boolean;
  /** Per-pixel Gaussian noise added after painting: its own seed and standard deviation. */
  noise: { seed: number; sigma: number };
}

const clamp255 = (v: number) => Math.max(0, Math.min(255, v));

function jitter(rng: Rng, c: RGB, amount: number): RGB {
  return [
    clamp255(c[0] + rng.uniform(-amount, amount)),
    clamp255(c[1] + rng.uniform(-amount, amount)),
    clamp255(c[2] + rng.uniform(-amount, amount)),
  ];
}

function drawBackground(rng: Rng, kind: BackgroundKind, size: number): Background {
  switch (kind) {
    case "grass": {
      const base = jitter(rng, [70, 145, 55], 20);
      const blades: [number, number, number, number][] = [];
      const n = rng.int(40, 80);
      for (let i = 0; i < n; i++)
        blades.push([rng.uniform(0, size), rng.uniform(4, size), rng.uniform(-2, 2), -rng.uniform(2, 6)]);
      return { kind, base, bladeColor: jitter(rng, [35, 100, 35], 10), blades };
    }
    case "sky":
      return { kind, top: jitter(rng, [90, 160, 235], 20), bottom: jitter(rng, [170, 210, 245], 15) };
    case "water":
      return {
        kind,
        deep: jitter(rng, [20, 80, 150], 15),
        light: jitter(rng, [40, 150, 200], 15),
        phase: rng.uniform(0, 2 * Math.PI),
        period: rng.uniform(12, 22),
      };
    case "road":
      return {
        kind,
        verge: jitter(rng, [130, 130, 125], 20),
        asphalt: jitter(rng, [60, 60, 62], 10),
        roadTop: rng.int(44, 50),
        line: jitter(rng, [230, 230, 220], 10),
      };
    case "plain":
      return { kind, color: [rng.uniform(120, 230), rng.uniform(120, 230), rng.uniform(120, 230)] };
  }
}

/** Approximate radius of the object around its pose centre (placement of cue and decorations). */
const EXTENT: Record<ClassName, number> = { bee: 17, ladybug: 18, fish: 21, sun: 19, tree: 20, car: 19 };

function drawPose(rng: Rng, cls: ClassName, o: WorldOptions): Pose {
  // one draw whatever the rate, so the rest of the scene does not depend on it
  const far = rng.chance(cls === CUE_CLASS ? o.farRate : o.farRateElsewhere);
  const s = far ? rng.uniform(o.farScale[0], o.farScale[1]) : rng.uniform(0.8, 1.2);
  const dir: 1 | -1 = rng.chance(0.5) ? 1 : -1;
  const cx = rng.uniform(22, 42);
  const cy = cls === "tree" ? rng.uniform(20, 30) : cls === "car" ? rng.uniform(26, 38) : rng.uniform(22, 42);
  return { cx, cy, s, dir };
}

/** A point in [lo, hi)² at least `minDist` from (cx, cy); gives up after a few tries. */
function placeAway(rng: Rng, lo: Vec2, hi: Vec2, cx: number, cy: number, minDist: number): Vec2 {
  let best: Vec2 = [rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1])];
  let bestD = Math.hypot(best[0] - cx, best[1] - cy);
  for (let t = 0; t < 40 && bestD < minDist; t++) {
    const p: Vec2 = [rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1])];
    const d = Math.hypot(p[0] - cx, p[1] - cy);
    if (d > bestD) {
      best = p;
      bestD = d;
    }
  }
  return best;
}

function objectParts(rng: Rng, cls: ClassName, p: Pose): ScenePart[] {
  const part = (name: PartName, primitives: ScenePart["primitives"]): ScenePart => ({
    name,
    role: "object",
    primitives,
  });
  switch (cls) {
    case "bee": {
      const body = jitter(rng, [240, 200, 35], 15);
      const wing = jitter(rng, [215, 228, 250], 10);
      const opacity = rng.uniform(0.75, 0.95);
      return [
        part("body", P.beeBody(p, body)),
        part("stripes", P.beeStripes(p)),
        part("wings", P.beeWings(p, wing, opacity)),
      ];
    }
    case "ladybug": {
      const red = jitter(rng, [210, 35, 30], 20);
      const n = rng.int(4, 8);
      const spots: Vec2[] = [];
      for (let i = 0; i < n; i++) {
        const a = rng.uniform(0, 2 * Math.PI);
        const r = rng.uniform(3.5, 9);
        spots.push([r * Math.cos(a), r * Math.sin(a)]);
      }
      return [
        part("head", P.ladybugHead(p)),
        part("dome", P.ladybugDome(p, red)),
        part("dots", P.ladybugDots(p, spots, rng.uniform(2, 2.8))),
      ];
    }
    case "fish": {
      const col: RGB = [rng.uniform(200, 255), rng.uniform(80, 170), rng.uniform(0, 70)];
      const parts = [part("tail", P.fishTail(p, col)), part("body", P.fishBody(p, col))];
      // some fish have stripes too, light or as dark as a bee's
      const striped = rng.chance(0.4);
      const stripeColor = rng.chance(0.5) ? jitter(rng, [245, 245, 240], 10) : jitter(rng, [25, 25, 25], 8);
      if (striped) parts.push(part("stripes", P.fishStripes(p, stripeColor)));
      parts.push(part("eye", P.fishEye(p)));
      return parts;
    }
    case "sun": {
      const disc = jitter(rng, [255, 228, 45], 12);
      const rays = jitter(rng, [255, 195, 10], 15);
      return [
        part("rays", P.sunRays(p, rng.int(8, 14), rng.uniform(0, Math.PI), rays)),
        part("disc", P.sunDisc(p, disc)),
      ];
    }
    case "tree": {
      const trunk = jitter(rng, [110, 70, 30], 15);
      const blobs: [number, number, number][] = [];
      const n = rng.int(4, 7);
      for (let i = 0; i < n; i++) blobs.push([rng.uniform(-9, 9), rng.uniform(-12, 0), rng.uniform(7, 10)]);
      const greens: RGB[] = [jitter(rng, [35, 125, 40], 20), jitter(rng, [50, 150, 50], 20)];
      return [part("trunk", P.treeTrunk(p, trunk)), part("canopy", P.treeCanopy(p, blobs, greens))];
    }
    case "car": {
      const col: RGB = [rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)];
      return [
        part("body", P.carBody(p, col)),
        part("window", P.carWindow(p, jitter(rng, [180, 220, 250], 12))),
        part("wheels", P.carWheels(p)),
      ];
    }
  }
}

/**
 * Draws the scene of class `cls` for `seed`. Deterministic: the same class, seed and options give
 * the same description. Random values are drawn in a fixed order that does not depend on which
 * parts a later render leaves out.
 */
export function drawScene(cls: ClassName, seed: number, options: Partial<WorldOptions> = {}): Scene {
  const o = { ...DEFAULT_WORLD, ...options };
  const rng = new Rng(seed);
  const size = o.size;
  const bgKind = rng.pick(CLASS_BACKGROUNDS[cls]);
  const background = drawBackground(rng, bgKind, size);
  const pose = drawPose(rng, cls, o);
  const extent = EXTENT[cls] * pose.s;
  const parts: ScenePart[] = [];

  // decorations: irrelevant to every class
  const hasPebbles = rng.chance(o.decorationRate);
  const pebbleList: { x: number; y: number; rx: number; ry: number; grey: number }[] = [];
  const nPebbles = rng.int(2, 5);
  for (let i = 0; i < nPebbles; i++) {
    const [x, y] = placeAway(rng, [3, size - 13], [size - 3, size - 3], pose.cx, pose.cy, extent + 3);
    pebbleList.push({ x, y, rx: rng.uniform(2, 3.5), ry: rng.uniform(1.5, 2.5), grey: rng.uniform(110, 190) });
  }
  if (hasPebbles) parts.push({ name: "pebbles", role: "decoration", primitives: P.pebbles(pebbleList) });

  const cloudAllowed = bgKind === "sky" || bgKind === "plain";
  const hasCloud = rng.chance(o.decorationRate);
  const [cloudX, cloudY] = placeAway(rng, [10, 6], [size - 10, 18], pose.cx, pose.cy, extent + 6);
  const cloudScale = rng.uniform(0.8, 1.2);
  const cloudBlobs: [number, number, number][] = [];
  for (let i = 0; i < 4; i++) cloudBlobs.push([rng.uniform(-7, 7), rng.uniform(-2, 2), rng.uniform(3, 5)]);
  if (cloudAllowed && hasCloud)
    parts.push({ name: "cloud", role: "decoration", primitives: P.cloud(cloudX, cloudY, cloudScale, cloudBlobs) });

  // the planted cue
  const cue = rng.chance(cls === CUE_CLASS ? o.cueRate : (o.cueRateIn[cls] ?? o.cueRateElsewhere));
  const flowerList: P.Flower[] = [];
  const nFlowers = rng.int(2, 5);
  for (let i = 0; i < nFlowers; i++) {
    const [x, y] = placeAway(rng, [6, 6], [size - 6, size - 6], pose.cx, pose.cy, extent + 2);
    flowerList.push({
      x,
      y,
      r: rng.uniform(3, 4.2),
      phase: rng.uniform(0, 2 * Math.PI),
      petal: jitter(rng, [240, 120, 190], 12),
    });
  }
  if (cue) parts.push({ name: "flowers", role: "cue", primitives: P.flowers(flowerList, o.flowerCentre) });

  parts.push(...objectParts(rng, cls, pose));
  const noise = { seed: rng.nextUint32(), sigma: rng.uniform(2, 7) };
  return { seed, className: cls, size, pose, background, parts, cue, noise };
}
