/**
 * The engine's command line:
 *   npm run neurflow -- circuit --manifest M.json --images DIR --class NAME --layers a,b,c
 *                     [--tau 16] [--k 50] [--ig-steps 15] [--ig-method gausskronrod|gausslegendre|riemann]
 *                     [--preset default|reference] [--importance absMean|meanAbs]
 *                     [--edge-normalization sequential|sum] [--out circuit.json]
 *   npm run neurflow -- compare --circuit C.json --reference R.json[.gz]
 *   npm run neurflow -- backend
 *   npm run neurflow -- optimality | fidelity-neurons | fidelity-weights | debug | mask | dependence  (evaluationCommands.ts)
 * Progress goes to stderr, the result to --out (or stdout).
 */
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { parseArgs } from "node:util";
import { initBackend } from "../backend";
import { buildCircuit } from "../circuit";
import { parseCircuit } from "../circuitFormat";
import { compareWithReference, formatParity, parityFailures, type ReferenceRun } from "../parity";
import type { MethodParams } from "../presets";
import type { CircuitCheckpoint } from "../runTypes";
import { EVALUATION_COMMANDS, EVALUATION_USAGE, UsageError } from "./evaluationCommands";
import { createProgressBar } from "./progressBar";

const USAGE = `usage:
  neurflow circuit --manifest M.json --images DIR --class NAME --layers top,...,bottom [--tau 16] [--k 50]
                   [--ig-steps 15 (reference preset: 50)] [--ig-method gausskronrod|gausslegendre|riemann]
                   [--preset default|reference]
                   [--importance absMean|meanAbs] [--edge-normalization sequential|sum] [--out circuit.json]
                   [--checkpoint FILE]   (saved after each layer pair; an existing one is resumed)
  neurflow compare --circuit C.json --reference R.json[.gz]
  neurflow backend
${EVALUATION_USAGE}`;

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got "${v}"`);
  return n;
}

function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}

async function readJson(path: string): Promise<unknown> {
  const buf = await readFile(path);
  return JSON.parse((path.endsWith(".gz") ? gunzipSync(buf) : buf).toString("utf8"));
}

async function circuitCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      manifest: { type: "string" },
      images: { type: "string" },
      class: { type: "string" },
      layers: { type: "string" },
      tau: { type: "string" },
      k: { type: "string" },
      "ig-steps": { type: "string" },
      "ig-method": { type: "string" },
      preset: { type: "string" },
      importance: { type: "string" },
      "edge-normalization": { type: "string" },
      out: { type: "string" },
      checkpoint: { type: "string" },
    },
    strict: true,
  });
  for (const req of ["manifest", "images", "class", "layers"] as const) {
    if (!values[req]) throw new UsageError(`--${req} is required`);
  }
  const params: Partial<MethodParams> = {
    preset: oneOf("preset", values.preset, ["default", "reference"] as const),
    tau: int("tau", values.tau),
    k: int("k", values.k),
    igSteps: int("ig-steps", values["ig-steps"]),
    igMethod: oneOf("ig-method", values["ig-method"], ["gausslegendre", "riemann", "gausskronrod"] as const),
    importance: oneOf("importance", values.importance, ["absMean", "meanAbs"] as const),
    edgeNormalization: oneOf("edge-normalization", values["edge-normalization"], ["sequential", "sum"] as const),
  };
  const layers = values
    .layers!.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const checkpointPath = values.checkpoint;
  let resume: CircuitCheckpoint | undefined;
  if (checkpointPath && existsSync(checkpointPath)) {
    resume = (await readJson(checkpointPath)) as CircuitCheckpoint;
    process.stderr.write(`resuming after ${resume.layers?.length ?? 0} finished layer pairs from ${checkpointPath}\n`);
  }
  const bar = createProgressBar("circuit", 1000);
  const circuit = await buildCircuit(
    { manifestPath: values.manifest!, images: values.images!, className: values.class!, layers, params },
    {
      onProgress: (p) => bar.update(Math.round(p.fraction * 1000), p.message),
      ...(resume ? { resume } : {}),
      ...(checkpointPath
        ? {
            onCheckpoint: async (c: CircuitCheckpoint) => {
              await writeFile(`${checkpointPath}.tmp`, JSON.stringify(c));
              await rename(`${checkpointPath}.tmp`, checkpointPath);
            },
          }
        : {}),
    },
  );
  bar.done(`done in ${circuit.timings?.total?.toFixed(1)} s on ${circuit.params.backend}`);
  const text = JSON.stringify(circuit);
  if (values.out) {
    await writeFile(values.out, text);
    const groups = circuit.layers.reduce((a, l) => a + l.neuronGroups.length, 0);
    const targets = circuit.layers.reduce((a, l) => a + l.targets.length, 0);
    process.stderr.write(
      `wrote ${values.out}: ${circuit.layers.length} layer pairs, ${targets} targets, ${groups} neuron groups\n`,
    );
  } else {
    process.stdout.write(text + "\n");
  }
}

async function compareCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { circuit: { type: "string" }, reference: { type: "string" } },
    strict: true,
  });
  if (!values.circuit || !values.reference) throw new UsageError("--circuit and --reference are required");
  const ours = parseCircuit(await readJson(values.circuit));
  const ref = (await readJson(values.reference)) as ReferenceRun;
  const f = compareWithReference(ours, ref);
  for (const l of f.perLayer) {
    process.stdout.write(
      `${l.upper.padStart(9)} ← ${l.lower.padEnd(9)} targets ${String(l.targets).padStart(3)}  J=${l.targetJaccard.toFixed(2)}  core J=${l.coreJaccard.toFixed(3)}  group ARI=${l.neuronGroupAri.toFixed(3)}\n`,
    );
  }
  const bad = parityFailures(f);
  process.stdout.write(`${bad.length ? `PARITY SHORT (${bad.join(",")})` : "PARITY OK"} ${formatParity(f)}\n`);
  if (bad.length) process.exitCode = 1;
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (
    command !== undefined &&
    (["help", "--help", "-h"].includes(command) || rest.includes("--help") || rest.includes("-h"))
  ) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === "circuit") return circuitCommand(rest);
  if (command === "compare") return compareCommand(rest);
  const evaluation = command ? EVALUATION_COMMANDS[command] : undefined;
  if (evaluation) return evaluation(rest);
  if (command === "backend") {
    const info = await initBackend();
    process.stdout.write(`${info.name} (${info.detail})\n`);
    for (const s of info.skipped) process.stdout.write(`  skipped ${s.name}: ${s.reason}\n`);
    return;
  }
  throw new UsageError(command ? `unknown command "${command}"` : "no command given");
}

main().catch((e: unknown) => {
  // node:util parseArgs refuses unknown or malformed options: that is a usage error too
  if (typeof (e as { code?: unknown })?.code === "string" && (e as { code: string }).code.startsWith("ERR_PARSE_ARGS"))
    e = new UsageError((e as Error).message);
  if (e instanceof UsageError) process.stderr.write(`neurflow: ${e.message}\n${USAGE}\n`);
  else process.stderr.write(`neurflow: error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(e instanceof UsageError ? 2 : 1);
});
