/**
 * A world's options as the outside sees them: command-line flags (`--cue-rate 0.95 …`) and the
 * `world` record of a model's `training.json`. Both are validated here, and both map onto
 * `WorldOptions` (scenes.ts), so every command reads and writes a world the same way.
 */
import type { RGB } from "./shapes";
import { CLASSES, CUE_CLASS, DEFAULT_WORLD, type ClassName, type WorldOptions } from "./scenes";

/** The options that define a world (recorded with a model, taken as flags by generate, train and grid). */
export type WorldDefinition = Pick<
  WorldOptions,
  "cueRate" | "cueRateElsewhere" | "cueRateIn" | "farRate" | "farRateElsewhere" | "farScale" | "flowerCentre"
>;

const isRate = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 1;

function isScaleRange(v: unknown): v is [number, number] {
  return (
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((x) => typeof x === "number" && Number.isFinite(x) && x > 0 && x < 1) &&
    v[0] < v[1]
  );
}

function isColour(v: unknown): v is RGB {
  return (
    Array.isArray(v) &&
    v.length === 3 &&
    v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 255)
  );
}

function isCueRateIn(v: unknown): v is Partial<Record<ClassName, number>> {
  if (!v || typeof v !== "object" || Array.isArray(v)) return false;
  return Object.entries(v).every(
    ([c, r]) => c !== CUE_CLASS && (CLASSES as readonly string[]).includes(c) && isRate(r),
  );
}

const RATE_FLAGS = [
  ["cue-rate", "cueRate"],
  ["cue-rate-elsewhere", "cueRateElsewhere"],
  ["far-rate", "farRate"],
  ["far-rate-elsewhere", "farRateElsewhere"],
] as const;

/** The world given by command-line flags over `base` (the default world unless given). */
export function worldFromFlags(
  args: Readonly<Record<string, string>>,
  base: WorldOptions = DEFAULT_WORLD,
): WorldOptions {
  const w: WorldOptions = { ...base };
  for (const [flag, key] of RATE_FLAGS) {
    const raw = args[flag];
    if (raw === undefined) continue;
    const v = Number(raw);
    if (!isRate(v)) throw new Error(`--${flag} ${raw} must be a probability between 0 and 1`);
    w[key] = v;
  }
  const scale = args["far-scale"];
  if (scale !== undefined) {
    const v = scale.split(",").map(Number);
    if (!isScaleRange(v)) throw new Error(`--far-scale ${scale} must be LO,HI with 0 < LO < HI < 1`);
    w.farScale = v;
  }
  const rateIn = args["cue-rate-in"];
  if (rateIn !== undefined) {
    const entries = rateIn.split(",").map((e) => e.split(":"));
    const v = Object.fromEntries(entries.map(([c, r]) => [c, Number(r)]));
    if (!entries.every((e) => e.length === 2) || !isCueRateIn(v))
      throw new Error(
        `--cue-rate-in ${rateIn} must be CLASS:RATE[,CLASS:RATE…] with classes other than ${CUE_CLASS} (${CLASSES.filter((c) => c !== CUE_CLASS).join(", ")}) and rates between 0 and 1`,
      );
    w.cueRateIn = v;
  }
  const centre = args["flower-centre"];
  if (centre !== undefined) {
    const v = centre.split(",").map(Number);
    if (!isColour(v)) throw new Error(`--flower-centre ${centre} must be R,G,B with integers 0–255`);
    w.flowerCentre = v;
  }
  return w;
}

/** The flags that recreate `w` (for the command recorded with a model). */
export function worldFlags(w: WorldDefinition): string {
  const parts = RATE_FLAGS.map(([flag, key]) => `--${flag} ${w[key]}`);
  const rateIn = Object.entries(w.cueRateIn);
  if (rateIn.length) parts.push(`--cue-rate-in ${rateIn.map(([c, r]) => `${c}:${r}`).join(",")}`);
  parts.push(`--far-scale ${w.farScale.join(",")}`, `--flower-centre ${w.flowerCentre.join(",")}`);
  return parts.join(" ");
}

/** The definition of `w` to record with a model or a dataset. */
export function worldDefinition(w: WorldOptions): WorldDefinition {
  return {
    cueRate: w.cueRate,
    cueRateElsewhere: w.cueRateElsewhere,
    cueRateIn: w.cueRateIn,
    farRate: w.farRate,
    farRateElsewhere: w.farRateElsewhere,
    farScale: w.farScale,
    flowerCentre: w.flowerCentre,
  };
}

/**
 * The world of a `training.json` record. A missing option takes world 1's value, which is what
 * models had before the option existed (no far objects outside the cue class, world 1's far scale
 * and far rate, yellow flower centres); a present one must be valid.
 */
export function worldFromRecord(record: unknown): WorldOptions {
  const r = (record && typeof record === "object" ? record : {}) as Record<string, unknown>;
  const w: WorldOptions = { ...DEFAULT_WORLD };
  const take = <K extends keyof WorldDefinition>(key: K, ok: (v: unknown) => v is WorldOptions[K]) => {
    const v = r[key];
    if (v === undefined) return;
    if (!ok(v)) throw new Error(`training.json: world.${key} ${JSON.stringify(v)} is not valid`);
    w[key] = v;
  };
  take("cueRate", isRate);
  take("cueRateElsewhere", isRate);
  take("cueRateIn", isCueRateIn);
  take("farRate", isRate);
  take("farRateElsewhere", isRate);
  take("farScale", isScaleRange);
  take("flowerCentre", isColour);
  return w;
}
