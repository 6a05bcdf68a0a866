/**
 * Command-line evaluations and applications on a stored circuit (JSON from `neurflow circuit`):
 *   optimality | fidelity-neurons | fidelity-weights | debug | mask | dependence
 * Every command takes --circuit C.json --manifest M.json --images DIR (the folder holding the
 * circuit's images) and writes the full result as JSON with --out; a summary goes to stdout and a
 * progress bar to stderr.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { initBackend } from "../backend";
import { parseCircuit, type Circuit } from "../circuitFormat";
import { loadEvaluationData, type EvaluationData } from "../evaluations/evaluationData";
import { classDependence } from "../evaluations/classDependence";
import { fidelityOfNeurons, type FidelityBaseline, type FidelityScope } from "../evaluations/fidelityOfNeurons";
import { fidelityOfWeights } from "../evaluations/fidelityOfWeights";
import { withKnockouts } from "../evaluations/knockoutRunner";
import { optimality } from "../evaluations/optimality";
import type { EvaluationProgress } from "../evaluations/progress";
import {
  formatClassDependence,
  formatFidelityOfNeurons,
  formatFidelityOfWeights,
  formatOptimality,
} from "../evaluations/report";
import { maskGroups } from "../groupMasking";
import { debugImages } from "../imageDebugging";
import { listImages, loadClassImages } from "../images";
import type { MaskMode } from "../masking";
import { tf } from "../tf";
import { createProgressBar } from "./progressBar";

export class UsageError extends Error {}

export const EVALUATION_USAGE = `  neurflow optimality       --circuit C.json --manifest M.json --images DIR [--taus 10,30,50] [--targets 5]
                            [--random-sets 100] [--k 50] [--pairs 0,1,...] [--seed 0] [--out R.json]
  neurflow fidelity-neurons --circuit C.json --manifest M.json --images DIR [--taus 4,8,16] [--draws 5]
                            [--baseline random|neuronmct] [--modes mask,retain] [--scopes single,multi] [--seed 0] [--out R.json]
  neurflow fidelity-weights --circuit C.json --manifest M.json --images DIR [--sizes 1,5,10,20,50]
                            [--random-sets 500] [--targets 1] [--k 50] [--pairs 0,1,...] [--seed 0] [--out R.json]
  neurflow debug            --circuit C.json --manifest M.json --layer NAME --image FILE [--image FILE ...]
                            [--threshold 0.6] [--out R.json]
  neurflow mask             --circuit C.json --manifest M.json --images DIR --layer NAME --groups 0,1|core
                            [--draws 5] [--top-patches 10] [--seed 0] [--out R.json]
  neurflow dependence       --circuit C.json --manifest M.json --images DIR --others DATASET [--per-class 32]
                            [--draws 200] [--false-positives 16] [--level 0.95] [--context-ratio 0.5]
                            [--pairs 1,2,...] [--seed 0] [--json R.json]
                            (DATASET: one folder per class; the folders of the other classes are read)`;

const common = {
  circuit: { type: "string" },
  manifest: { type: "string" },
  images: { type: "string" },
  out: { type: "string" },
  seed: { type: "string" },
} as const;

function ints(name: string, v: string | undefined, min = 0): number[] | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(",").map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < min))
    throw new UsageError(`--${name} must be a comma-separated list of integers ≥ ${min}, got "${v}"`);
  return xs;
}

function int(name: string, v: string | undefined, min = 1): number | undefined {
  return ints(name, v, min)?.[0];
}

function list<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T[] | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(",").map((s) => s.trim());
  for (const x of xs)
    if (!(allowed as readonly string[]).includes(x))
      throw new UsageError(`--${name} takes ${allowed.join(", ")}; got "${x}"`);
  return xs as T[];
}

async function readCircuit(path: string | undefined): Promise<Circuit> {
  if (!path) throw new UsageError("--circuit is required");
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new Error(`cannot read the circuit ${path}: ${(e as Error).message}`);
  }
  return parseCircuit(raw);
}

function layerIndexOf(circuit: Circuit, name: string | undefined): number {
  if (!name) throw new UsageError("--layer is required");
  const i = circuit.layers.findIndex((l) => l.upper === name);
  if (i < 0)
    throw new UsageError(
      `the circuit has neuron groups at ${circuit.layers.map((l) => l.upper).join(", ")}; not at "${name}"`,
    );
  return i;
}

async function withData<T>(
  values: { circuit?: string; manifest?: string; images?: string },
  f: (d: EvaluationData) => Promise<T>,
): Promise<T> {
  if (!values.manifest) throw new UsageError("--manifest is required");
  if (!values.images) throw new UsageError("--images is required (the folder with the circuit's images)");
  const circuit = await readCircuit(values.circuit);
  await initBackend();
  const data = await loadEvaluationData(circuit, values.manifest, values.images);
  try {
    return await f(data);
  } finally {
    data.dispose();
  }
}

async function emit(result: unknown, summary: string, out: string | undefined): Promise<void> {
  process.stdout.write(summary + "\n");
  if (out) {
    await writeFile(out, JSON.stringify(result, null, 1));
    process.stderr.write(`wrote ${out}\n`);
  }
}

function bar(label: string) {
  let b: ReturnType<typeof createProgressBar> | null = null;
  return {
    onProgress: (p: EvaluationProgress) => {
      b ??= createProgressBar(label, p.total);
      b.update(p.done, p.message);
    },
    done: (m: string) => b?.done(m),
  };
}

async function optimalityCommand(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      taus: { type: "string" },
      targets: { type: "string" },
      "random-sets": { type: "string" },
      k: { type: "string" },
      pairs: { type: "string" },
    },
    strict: true,
  });
  await withData(values, async (d) => {
    const p = bar("optimality");
    const r = await withKnockouts(d, (runner) =>
      optimality(d.circuit, d.model, d.images, d.patches, {
        runner,
        taus: ints("taus", values.taus, 1),
        targets: int("targets", values.targets),
        randomSets: int("random-sets", values["random-sets"]),
        k: int("k", values.k),
        pairs: ints("pairs", values.pairs),
        seed: int("seed", values.seed, 0),
        onProgress: p.onProgress,
      }),
    );
    p.done(`done in ${r.seconds.toFixed(1)} s`);
    await emit(r, formatOptimality(r), values.out);
  });
}

async function fidelityNeuronsCommand(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      taus: { type: "string" },
      draws: { type: "string" },
      baseline: { type: "string" },
      modes: { type: "string" },
      scopes: { type: "string" },
    },
    strict: true,
  });
  await withData(values, async (d) => {
    const p = bar("fidelity");
    const r = await fidelityOfNeurons(d.circuit, d.model, d.images, d.classIndex, {
      taus: ints("taus", values.taus, 1),
      draws: int("draws", values.draws),
      baseline: list<FidelityBaseline>("baseline", values.baseline, ["random", "neuronmct"])?.[0],
      modes: list<MaskMode>("modes", values.modes, ["mask", "retain"]),
      scopes: list<FidelityScope>("scopes", values.scopes, ["single", "multi"]),
      seed: int("seed", values.seed, 0),
      onProgress: p.onProgress,
    });
    p.done(`done in ${r.seconds.toFixed(1)} s`);
    await emit(r, formatFidelityOfNeurons(r), values.out);
  });
}

async function fidelityWeightsCommand(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      sizes: { type: "string" },
      "random-sets": { type: "string" },
      targets: { type: "string" },
      k: { type: "string" },
      pairs: { type: "string" },
    },
    strict: true,
  });
  await withData(values, async (d) => {
    const p = bar("weights");
    const r = await withKnockouts(d, (runner) =>
      fidelityOfWeights(d.circuit, d.model, d.images, d.patches, {
        runner,
        setSizes: ints("sizes", values.sizes, 1),
        randomSets: int("random-sets", values["random-sets"], 2),
        targets: int("targets", values.targets),
        k: int("k", values.k),
        pairs: ints("pairs", values.pairs),
        seed: int("seed", values.seed, 0),
        onProgress: p.onProgress,
      }),
    );
    p.done(`done in ${r.seconds.toFixed(1)} s`);
    await emit(r, formatFidelityOfWeights(r), values.out);
  });
}

async function debugCommand(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      circuit: { type: "string" },
      manifest: { type: "string" },
      layer: { type: "string" },
      image: { type: "string", multiple: true },
      threshold: { type: "string" },
      out: { type: "string" },
    },
    strict: true,
  });
  if (!values.manifest) throw new UsageError("--manifest is required");
  if (!values.image?.length) throw new UsageError("give at least one --image FILE");
  const circuit = await readCircuit(values.circuit);
  const layerIndex = layerIndexOf(circuit, values.layer);
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  if (threshold !== undefined && !(threshold > 0))
    throw new UsageError(`--threshold must be a positive number, got "${values.threshold}"`);
  await initBackend();
  const { loadModel } = await import("../model/loadModel");
  const { checkModelMatches } = await import("../evaluations/evaluationData");
  const model = await loadModel(values.manifest);
  try {
    checkModelMatches(circuit, model);
    const S = model.manifest.input.size;
    const loaded = await loadClassImages(values.image, S);
    const x = tf.tidy(() => model.preprocess(tf.tensor4d(loaded.pixels, [loaded.names.length, S, S, 3])));
    const r = await debugImages(circuit, model, x, { layerIndex, ...(threshold ? { threshold } : {}) });
    x.dispose();
    const lines = r.images.flatMap((img, i) => [
      `${loaded.names[i]}: predicted ${circuit.model.classes[img.predicted]}, P(${circuit.class.name}) = ${img.classProbability.toFixed(3)}`,
      ...img.groups.map(
        (g) =>
          `  group ${g.groupId}: M = ${g.score.toFixed(3)}, ${g.cropsAbove} crops ≥ ${r.threshold}; best crop x,y,size = ${g.topCrops[0]?.crop.join(", ")}`,
      ),
    ]);
    await emit(
      { ...r, names: loaded.names },
      `metric M of the neuron groups of ${r.layer}\n${lines.join("\n")}`,
      values.out,
    );
  } finally {
    model.dispose();
  }
}

async function maskCommand(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      layer: { type: "string" },
      groups: { type: "string" },
      draws: { type: "string" },
      "top-patches": { type: "string" },
    },
    strict: true,
  });
  if (!values.groups) throw new UsageError("--groups is required (group ids, comma-separated, or core)");
  await withData(values, async (d) => {
    const layerIndex = layerIndexOf(d.circuit, values.layer);
    const groups = values.groups === "core" ? "core" : ints("groups", values.groups)!;
    const r = await maskGroups(
      d.circuit,
      d.model,
      d.images,
      {
        layerIndex,
        groups,
        draws: int("draws", values.draws),
        seed: int("seed", values.seed, 0),
        topPatches: int("top-patches", values["top-patches"], 0),
      },
      { images: d.images, patches: d.patches },
    );
    const m = r.means;
    await emit(
      r,
      [
        `masking ${r.neurons.length} of ${r.layerWidth} neurons of ${r.layer} (${values.groups === "core" ? "core neurons" : `groups ${values.groups}`}) on ${r.before.length} images`,
        `mean P(${d.circuit.class.name}): before ${m.before.toFixed(3)}, after ${m.after.toFixed(3)}, after as many random neurons ${m.randomAfter.toFixed(3)} (${r.draws} draws)`,
        `largest logit drops: ${r.topDropPatches.map((p) => `patch ${p.patch} (−${p.drop.toFixed(2)})`).join(", ")}`,
      ].join("\n"),
      values.out,
    );
  });
}

function fraction(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!(x > 0 && x < 1)) throw new UsageError(`--${name} must be a number between 0 and 1, got "${v}"`);
  return x;
}

async function dependenceCommand(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      json: { type: "string" },
      others: { type: "string" },
      "per-class": { type: "string" },
      draws: { type: "string" },
      "false-positives": { type: "string" },
      level: { type: "string" },
      "context-ratio": { type: "string" },
      pairs: { type: "string" },
    },
    strict: true,
  });
  if (!values.others) throw new UsageError("--others is required (a dataset folder with one folder per class)");
  const perClass = int("per-class", values["per-class"]) ?? 32;
  const contextRatio = values["context-ratio"] === undefined ? undefined : Number(values["context-ratio"]);
  if (contextRatio !== undefined && !(contextRatio > 0))
    throw new UsageError(`--context-ratio must be a positive number, got "${values["context-ratio"]}"`);
  await withData(values, async (d) => {
    const classes = d.circuit.model.classes;
    const files: string[] = [];
    const names: string[] = [];
    const trueClasses: number[] = [];
    for (const [ci, c] of classes.entries()) {
      if (ci === d.classIndex) continue;
      const dir = join(values.others!, c);
      if (!existsSync(dir)) continue;
      for (const f of (await listImages(dir)).slice(0, perClass)) {
        files.push(f);
        names.push(`${c}/${basename(f)}`);
        trueClasses.push(ci);
      }
    }
    if (files.length === 0)
      throw new UsageError(
        `--others ${values.others} has no images in folders named after the other classes (${classes.filter((_, i) => i !== d.classIndex).join(", ")})`,
      );
    const S = d.model.manifest.input.size;
    const loaded = await loadClassImages(files, S);
    const otherImages = tf.tidy(() => d.model.preprocess(tf.tensor4d(loaded.pixels, [files.length, S, S, 3])));
    try {
      const p = bar("dependence");
      const r = await classDependence(
        d.circuit,
        d.model,
        { classImages: d.images, otherImages, otherNames: names, otherClasses: trueClasses },
        {
          draws: int("draws", values.draws),
          falsePositives: int("false-positives", values["false-positives"], 0),
          level: fraction("level", values.level),
          contextRatio,
          pairs: ints("pairs", values.pairs, 1),
          seed: int("seed", values.seed, 0),
          onProgress: p.onProgress,
        },
      );
      p.done(`done in ${r.seconds.toFixed(1)} s`);
      await emit(r, formatClassDependence(r, classes), values.json ?? values.out);
    } finally {
      otherImages.dispose();
    }
  });
}

export const EVALUATION_COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  optimality: optimalityCommand,
  "fidelity-neurons": fidelityNeuronsCommand,
  "fidelity-weights": fidelityWeightsCommand,
  debug: debugCommand,
  mask: maskCommand,
  dependence: dependenceCommand,
};
