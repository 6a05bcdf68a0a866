/**
 * Checking a trained toy-world model before trusting it, on fresh scenes re-rendered with parts
 * left out (only that part's pixels change):
 *   - accuracy drops when a class-defining part is removed (the largest single-part drop, averaged
 *     over classes; some classes have redundant parts, e.g. a tree's trunk or canopy alone); the
 *     accuracy with all of the object's parts removed is reported too (an empty scene still gets
 *     some class: the one whose object is least conspicuous on that background);
 *   - accuracy barely moves when an irrelevant part (pebbles, cloud) is removed;
 *   - the cue class's logit falls when the planted cue is removed (expected for a model trained
 *     with the cue; reported, not required, for a control model).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createProgressBar, initBackend } from "../neurflow";
import { argmax, predictLogits } from "./data";
import { loadLayersModel } from "./modelFiles";
import type { PartName } from "./parts";
import { deriveSeed } from "./random";
import {
  CLASS_PARTS,
  CLASSES,
  CUE_CLASS,
  OPTIONAL_PARTS,
  CUE_PART,
  DEFAULT_WORLD,
  drawScene,
  type ClassName,
  type Scene,
  type WorldOptions,
} from "./scenes";
import { worldFromRecord } from "./world";

export interface CheckOptions {
  model: string;
  perClass: number;
  seed: number;
  quiet?: boolean;
}

export interface CheckReport {
  model: string;
  world: WorldOptions;
  scenesPerClass: number;
  seed: number;
  /** Trained with the cue more frequent in the cue class than elsewhere. */
  cueModel: boolean;
  accuracy: number;
  perClass: Record<string, number>;
  /** Per class and defining part: accuracy on that class with the part removed. */
  definingParts: { class: ClassName; part: PartName; accuracy: number; drop: number }[];
  /** Per class: accuracy with all of the object's parts removed (background, decorations and cue left). */
  withoutObject: Record<string, number>;
  /** Irrelevant parts: accuracy over the scenes that have them, with and without. */
  irrelevantParts: { part: PartName; scenes: number; accuracy: number; accuracyWithout: number; change: number }[];
  /**
   * Cue-class scenes drawn with the cue: cue-class logit and probability, with and without it.
   * Passes when the logit falls by more than 0.1 and by more than 3× the change from removing
   * an irrelevant part of the same scenes.
   */
  cue: {
    class: ClassName;
    part: PartName;
    scenes: number;
    logit: number;
    logitWithout: number;
    logitChange: number;
    probability: number;
    probabilityWithout: number;
    /** The logit change on far (tiny) bees and on the others. */
    logitChangeFarBees: number;
    logitChangeNearBees: number;
    farBees: number;
    /** The same measure for removing an irrelevant part of the same scenes (pebbles), for scale. */
    logitChangeRemovingPebbles: number;
  };
  criteria: { name: string; passed: boolean; detail: string }[];
  passed: boolean;
}

function softmax(row: readonly number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function accuracyOf(logits: number[][], scenes: readonly Scene[]): number {
  let ok = 0;
  logits.forEach((row, i) => {
    if (CLASSES[argmax(row)] === scenes[i]!.className) ok++;
  });
  return scenes.length ? ok / scenes.length : NaN;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export function readWorld(dir: string): WorldOptions {
  const p = join(dir, "training.json");
  if (!existsSync(p)) return DEFAULT_WORLD;
  const t = JSON.parse(readFileSync(p, "utf8")) as { world?: unknown };
  return worldFromRecord(t.world);
}

export async function checkModel(o: CheckOptions): Promise<CheckReport> {
  await initBackend();
  const model = await loadLayersModel(o.model);
  const world = readWorld(o.model);
  const cueModel = world.cueRate > world.cueRateElsewhere;
  const scenes: Scene[] = [];
  for (const c of CLASSES)
    for (let i = 0; i < o.perClass; i++) scenes.push(drawScene(c, deriveSeed(o.seed, "check", c, i), world));
  const definingCount = CLASSES.reduce((n, c) => n + CLASS_PARTS[c].length, 0);
  const bar = o.quiet ? null : createProgressBar("check", 1 + definingCount + CLASSES.length + 2 + 3);

  const base = predictLogits(model, scenes);
  bar?.tick(1, "baseline");
  const perClass: Record<string, number> = {};
  for (const c of CLASSES) {
    const idx = scenes.flatMap((s, i) => (s.className === c ? [i] : []));
    perClass[c] = accuracyOf(
      idx.map((i) => base[i]!),
      idx.map((i) => scenes[i]!),
    );
  }

  const definingParts: CheckReport["definingParts"] = [];
  for (const c of CLASSES) {
    const own = scenes.filter((s) => s.className === c);
    for (const part of CLASS_PARTS[c]) {
      const acc = accuracyOf(predictLogits(model, own, [part]), own);
      definingParts.push({ class: c, part, accuracy: acc, drop: perClass[c]! - acc });
      bar?.tick(1, `${c} without ${part}`);
    }
  }

  const withoutObject: Record<string, number> = {};
  for (const c of CLASSES) {
    const own = scenes.filter((s) => s.className === c);
    withoutObject[c] = accuracyOf(predictLogits(model, own, [...CLASS_PARTS[c], ...(OPTIONAL_PARTS[c] ?? [])]), own);
    bar?.tick(1, `${c} without its object`);
  }

  const irrelevantParts: CheckReport["irrelevantParts"] = [];
  for (const part of ["pebbles", "cloud"] as PartName[]) {
    const withPart = scenes.filter((s) => s.parts.some((p) => p.name === part));
    const a = accuracyOf(predictLogits(model, withPart), withPart);
    const b = accuracyOf(predictLogits(model, withPart, [part]), withPart);
    irrelevantParts.push({ part, scenes: withPart.length, accuracy: a, accuracyWithout: b, change: b - a });
    bar?.tick(1, `without ${part}`);
  }

  // cue-class scenes that all carry the cue (and pebbles, for a same-size irrelevant comparison)
  const cueScenes: Scene[] = [];
  for (let i = 0; i < o.perClass; i++) {
    cueScenes.push(
      drawScene(CUE_CLASS, deriveSeed(o.seed, "check-cue", i), { ...world, cueRate: 1, decorationRate: 1 }),
    );
  }
  const k = CLASSES.indexOf(CUE_CLASS);
  const full = predictLogits(model, cueScenes);
  bar?.tick(1, "cue scenes");
  const noCue = predictLogits(model, cueScenes, [CUE_PART]);
  bar?.tick(1, `without ${CUE_PART}`);
  const noPebbles = predictLogits(model, cueScenes, ["pebbles"]);
  bar?.tick(1, "without pebbles");
  bar?.done();
  const logit = mean(full.map((r) => r[k]!));
  const logitWithout = mean(noCue.map((r) => r[k]!));
  const delta = full.map((r, i) => noCue[i]![k]! - r[k]!);
  const isFar = cueScenes.map((s) => s.pose.s < 0.5);
  const cue: CheckReport["cue"] = {
    class: CUE_CLASS,
    part: CUE_PART,
    scenes: cueScenes.length,
    logit,
    logitWithout,
    logitChange: logitWithout - logit,
    probability: mean(full.map((r) => softmax(r)[k]!)),
    probabilityWithout: mean(noCue.map((r) => softmax(r)[k]!)),
    logitChangeFarBees: mean(delta.filter((_, i) => isFar[i])),
    logitChangeNearBees: mean(delta.filter((_, i) => !isFar[i])),
    farBees: isFar.filter(Boolean).length,
    logitChangeRemovingPebbles: mean(noPebbles.map((r) => r[k]!)) - logit,
  };
  model.dispose();

  const accuracy = accuracyOf(base, scenes);
  const criteria: CheckReport["criteria"] = [];
  const largestDrops = CLASSES.map(
    (c) => definingParts.filter((d) => d.class === c).sort((a, b) => b.drop - a.drop)[0]!,
  );
  const meanLargest = mean(largestDrops.map((d) => d.drop));
  criteria.push({
    name: "removing a class-defining part lowers accuracy",
    passed: meanLargest >= 0.3,
    detail: `largest drop per class, mean ${(meanLargest * 100).toFixed(1)} points (${largestDrops
      .map((d) => `${d.class} −${(d.drop * 100).toFixed(0)} without ${d.part}`)
      .join(", ")})`,
  });
  for (const ir of irrelevantParts) {
    criteria.push({
      name: `removing ${ir.part} barely moves accuracy`,
      passed: Math.abs(ir.change) <= 0.02,
      detail: `${(ir.change * 100).toFixed(1)} points over ${ir.scenes} scenes`,
    });
  }
  if (cueModel) {
    criteria.push({
      name: `removing ${CUE_PART} lowers the ${CUE_CLASS} logit`,
      passed: cue.logitChange < -0.1 && Math.abs(cue.logitChange) > 3 * Math.abs(cue.logitChangeRemovingPebbles),
      detail: `${cue.logitChange.toFixed(3)} (pebbles: ${cue.logitChangeRemovingPebbles.toFixed(3)})`,
    });
  }
  return {
    model: o.model,
    world,
    scenesPerClass: o.perClass,
    seed: o.seed,
    cueModel,
    accuracy,
    perClass,
    definingParts,
    withoutObject,
    irrelevantParts,
    cue,
    criteria,
    passed: criteria.every((c) => c.passed),
  };
}

export function formatCheck(r: CheckReport): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const lines: string[] = [];
  lines.push(
    `model ${r.model} (${r.cueModel ? "trained with the cue" : "control"}; cue rate ${r.world.cueRate} in ${r.cue.class}, ${r.world.cueRateElsewhere} elsewhere)`,
  );
  lines.push(`accuracy on ${r.scenesPerClass} fresh scenes per class: ${pct(r.accuracy)}`);
  lines.push("");
  lines.push("class      part      accuracy  without  drop");
  for (const d of r.definingParts) {
    lines.push(
      `${d.class.padEnd(10)} ${d.part.padEnd(9)} ${pct(r.perClass[d.class]!).padStart(7)}  ${pct(d.accuracy).padStart(7)}  ${(d.drop * 100).toFixed(1).padStart(5)}`,
    );
  }
  for (const c of CLASSES) {
    lines.push(
      `${c.padEnd(10)} (all)     ${pct(r.perClass[c]!).padStart(7)}  ${pct(r.withoutObject[c]!).padStart(7)}  ${((r.perClass[c]! - r.withoutObject[c]!) * 100).toFixed(1).padStart(5)}`,
    );
  }
  lines.push("");
  for (const ir of r.irrelevantParts) {
    lines.push(`irrelevant ${ir.part}: ${pct(ir.accuracy)} → ${pct(ir.accuracyWithout)} without (${ir.scenes} scenes)`);
  }
  const c = r.cue;
  lines.push(
    `cue: ${c.class} logit ${c.logit.toFixed(3)} → ${c.logitWithout.toFixed(3)} without ${c.part} (change ${c.logitChange.toFixed(3)}; removing pebbles ${c.logitChangeRemovingPebbles.toFixed(3)}); probability ${c.probability.toFixed(4)} → ${c.probabilityWithout.toFixed(4)} (${c.scenes} scenes)`,
  );
  lines.push(
    `     logit change on ${c.farBees} far (tiny) bees ${c.logitChangeFarBees.toFixed(3)}, on the other ${c.scenes - c.farBees} ${c.logitChangeNearBees.toFixed(3)}`,
  );
  lines.push("");
  for (const k of r.criteria) lines.push(`${k.passed ? "PASS" : "FAIL"}  ${k.name}: ${k.detail}`);
  return lines.join("\n");
}
