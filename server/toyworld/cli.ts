/**
 * The toy world from the command line:
 *
 *   npm run toyworld -- generate --out DIR --per-class N --seed S [world options]
 *   npm run toyworld -- train --out models/toyworld --seed S [world options] [--epochs E] [--per-class N]
 *   npm run toyworld -- check --model models/toyworld [--per-class N] [--seed S] [--json FILE]
 *   npm run toyworld -- grid --out docs/images/toyworld-grid.png [--per-class N] [--seed S] [world options]
 *   npm run toyworld -- recover --model models/toyworld [--control models/toyworld-control] [--per-class N] [--seed S] [--tau T] [--json FILE]
 *   npm run toyworld -- cue-channels --model models/toyworld5 [--layers …] [--per-class N] [--seed S]
 *
 * Progress goes to stderr; summaries to stdout.
 */
import { basename, resolve } from "node:path";
import { DEFAULT_WORLD } from "./scenes";
import { worldFromFlags } from "./world";

type Args = Record<string, string>;

function parseArgs(argv: string[]): { command: string; args: Args } {
  const [command = "help", ...rest] = argv;
  const args: Args = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    if (eq > 0) args[a.slice(2, eq)] = a.slice(eq + 1);
    else {
      const v = rest[i + 1];
      if (v === undefined || v.startsWith("--")) throw new Error(`${a} needs a value`);
      args[a.slice(2)] = v;
      i++;
    }
  }
  return { command, args };
}

function num(args: Args, key: string, fallback?: number, check?: (v: number) => boolean): number {
  const raw = args[key];
  if (raw === undefined) {
    if (fallback === undefined) throw new Error(`--${key} is required`);
    return fallback;
  }
  const v = Number(raw);
  if (!Number.isFinite(v) || (check && !check(v))) throw new Error(`--${key} ${raw} is not valid`);
  return v;
}

const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
const seedOk = (v: number) => Number.isInteger(v) && v >= 0 && v < 2 ** 32;

function str(args: Args, key: string, fallback?: string): string {
  const v = args[key] ?? fallback;
  if (v === undefined) throw new Error(`--${key} is required`);
  return v;
}

const HELP = `toyworld: the built-in ground-truth world and its demo model

  generate --out DIR --per-class N --seed S [world options]
  train    --out DIR --seed S [world options]
           [--epochs E] [--per-class N] [--val-per-class N]
           [--batch-size B] [--lr L] [--widths 16,32,64,128] [--name NAME]
  check    --model DIR [--per-class N] [--seed S] [--json FILE]
  grid     --out FILE.png [--per-class N] [--seed S] [world options as for generate]
  recover  --model DIR [--control DIR] [--per-class N] [--seed S] [--tau T] [--json FILE]
           [--layers fc,layer4.1,layer4.0,layer3.1] [--draws D] [--fidelity-class C|none] [--circuits DIR]
  cue-channels --model DIR [--layers layer2.1,…,layer4.1] [--per-class N] [--seed S]

World options (default: world 1): --cue-rate R (flowers beside bees, ${DEFAULT_WORLD.cueRate})
  --cue-rate-elsewhere R (flowers in other classes, ${DEFAULT_WORLD.cueRateElsewhere}) --far-rate R (far, tiny bees, ${DEFAULT_WORLD.farRate})
  --far-rate-elsewhere R (far objects of other classes, ${DEFAULT_WORLD.farRateElsewhere}) --far-scale LO,HI (${DEFAULT_WORLD.farScale.join(",")})
  --flower-centre R,G,B (${DEFAULT_WORLD.flowerCentre.join(",")}). A control world: --cue-rate equal to --cue-rate-elsewhere.`;

async function main(): Promise<void> {
  const { command, args } = parseArgs(process.argv.slice(2));
  switch (command) {
    case "generate": {
      const { generateDataset } = await import("./dataset");
      const out = resolve(str(args, "out"));
      const summary = await generateDataset({
        out,
        perClass: num(args, "per-class", undefined, positiveInt),
        seed: num(args, "seed", undefined, seedOk),
        world: worldFromFlags(args),
      });
      console.log(
        `wrote ${summary.images} images to ${out} (${summary.cueImages} with the cue; ${summary.cueInCueClass} of ${summary.cueClassImages} bees)`,
      );
      return;
    }
    case "train": {
      const { train, DEFAULT_TRAIN } = await import("./train");
      const out = resolve(str(args, "out"));
      const widths = (args.widths ?? DEFAULT_TRAIN.widths.join(",")).split(",").map(Number);
      if (widths.length !== 4 || !widths.every(positiveInt)) throw new Error("--widths needs four positive integers");
      const r = await train({
        ...DEFAULT_TRAIN,
        out,
        name: args.name ?? basename(out),
        seed: num(args, "seed", DEFAULT_TRAIN.seed, seedOk),
        world: worldFromFlags(args),
        epochs: num(args, "epochs", DEFAULT_TRAIN.epochs, positiveInt),
        perClass: num(args, "per-class", DEFAULT_TRAIN.perClass, positiveInt),
        valPerClass: num(args, "val-per-class", DEFAULT_TRAIN.valPerClass, positiveInt),
        batchSize: num(args, "batch-size", DEFAULT_TRAIN.batchSize, positiveInt),
        learningRate: num(args, "lr", DEFAULT_TRAIN.learningRate, (v) => v > 0),
        widths: widths as [number, number, number, number],
      });
      console.log(
        `held-out accuracy ${(r.valAccuracy * 100).toFixed(1)}% after ${r.seconds.toFixed(0)} s on ${r.backend}; weights ${(r.weightBytes / 1e6).toFixed(2)} MB in ${out}`,
      );
      return;
    }
    case "check": {
      const { checkModel, formatCheck } = await import("./check");
      const report = await checkModel({
        model: resolve(str(args, "model")),
        perClass: num(args, "per-class", 100, positiveInt),
        seed: num(args, "seed", 12345, seedOk),
      });
      console.log(formatCheck(report));
      if (args.json) {
        const { writeFileSync } = await import("node:fs");
        writeFileSync(resolve(args.json), `${JSON.stringify(report, null, 1)}\n`);
      }
      if (!report.passed) process.exitCode = 1;
      return;
    }
    case "grid": {
      const { writeGrid } = await import("./grid");
      const out = resolve(str(args, "out"));
      await writeGrid({
        out,
        perClass: num(args, "per-class", 8, positiveInt),
        seed: num(args, "seed", 7, seedOk),
        world: worldFromFlags(args),
      });
      console.log(`wrote ${out}`);
      return;
    }
    case "recover": {
      const { runRecovery, DEFAULT_RECOVERY_LAYERS } = await import("./recovery");
      const { formatRecovery } = await import("./recoveryFormat");
      const { createProgressBar } = await import("../neurflow");
      const { CLASSES } = await import("./scenes");
      const fc = args["fidelity-class"];
      if (fc !== undefined && fc !== "none" && !(CLASSES as readonly string[]).includes(fc))
        throw new Error(`--fidelity-class ${fc} is not a class (${CLASSES.join(", ")}, or none)`);
      const bar = createProgressBar("recover", 1000);
      const report = await runRecovery({
        model: resolve(str(args, "model")),
        ...(args.control ? { control: resolve(args.control) } : {}),
        perClass: num(args, "per-class", 48, positiveInt),
        seed: num(args, "seed", 2025, seedOk),
        tau: num(args, "tau", 16, positiveInt),
        layers: (args.layers ?? DEFAULT_RECOVERY_LAYERS.join(",")).split(","),
        draws: num(args, "draws", 20, positiveInt),
        ...(args.circuits ? { circuitsOut: resolve(args.circuits) } : {}),
        ...(fc !== undefined ? { fidelityClass: fc === "none" ? null : (fc as (typeof CLASSES)[number]) } : {}),
        onProgress: (f, message) => bar.update(Math.round(f * 1000), message),
      });
      bar.done("done");
      console.log(formatRecovery(report));
      if (args.json) {
        const { writeFileSync } = await import("node:fs");
        writeFileSync(resolve(args.json), `${JSON.stringify(report, null, 1)}\n`);
      }
      if (!report.passed) process.exitCode = 1;
      return;
    }
    case "cue-channels": {
      const { cueChannels, formatCueChannels } = await import("./cueChannels");
      const { readWorld } = await import("./check");
      const { loadModel, initBackend, createProgressBar } = await import("../neurflow");
      const dir = resolve(str(args, "model"));
      const perClass = num(args, "per-class", 32, positiveInt);
      await initBackend();
      const model = await loadModel(resolve(dir, "manifest.json"));
      const bar = createProgressBar("cue-channels", 1000);
      try {
        const rows = await cueChannels(model, {
          layers: (args.layers ?? "layer2.1,layer3.0,layer3.1,layer4.0,layer4.1").split(","),
          perClass,
          seed: num(args, "seed", 2025, seedOk),
          world: readWorld(dir),
          onProgress: (f, message) => bar.update(Math.round(f * 1000), message),
        });
        bar.done("done");
        console.log(formatCueChannels(rows, perClass));
      } finally {
        model.dispose();
      }
      return;
    }
    case "help":
    case "--help":
      console.log(HELP);
      return;
    default:
      throw new Error(`unknown command "${command}"\n\n${HELP}`);
  }
}

main().catch((e: unknown) => {
  console.error(`toyworld: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
