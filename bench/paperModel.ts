/**
 * The engine on a model directory as the reference harness's paper_arch.py writes it (a torchvision
 * ResNet50 or GoogLeNet exported to ONNX: manifest.json, images/<class>/), or any manifest with a
 * class folder: wall time, peak RSS, the stages, per layer pair the targets, seconds per target and
 * the integration nodes used; with --reference (the authors' run, JSON or .json.gz), parity.
 * The numbers a side-by-side comparison with the authors' code needs, from one process.
 *   tsx bench/paperModel.ts --model DIR [--class NAME] --layers fc,layer4.2,layer4.1 [--tau 4] [--k 50]
 *                           [--preset default|reference] [--images N] [--reference R.json.gz] [--out C.json]
 * `npm run bench -- paper --model DIR --layers …` runs it. NEURFLOW_ONNXRUNTIME=0 measures the
 * TensorFlow.js-only path.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import { buildCircuit } from "../server/neurflow/circuit";
import { compareWithReference, formatParity, parityFailures, type ReferenceRun } from "../server/neurflow/parity";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    class: { type: "string" },
    layers: { type: "string" },
    tau: { type: "string", default: "4" },
    k: { type: "string", default: "50" },
    preset: { type: "string", default: "default" },
    images: { type: "string" },
    reference: { type: "string" },
    out: { type: "string" },
  },
  allowPositionals: true,
});
if (!values.model || !values.layers) {
  console.error(
    "usage: tsx bench/paperModel.ts --model DIR --layers top,...,bottom [--class NAME] [--tau 4] [--reference R.json.gz]",
  );
  process.exit(2);
}
const dir = values.model;
const className = values.class ?? readdirSync(join(dir, "images"))[0]!;
const files = readdirSync(join(dir, "images", className))
  .filter((f) => /\.(png|jpe?g|webp)$/i.test(f))
  .sort()
  .slice(0, values.images ? Number(values.images) : undefined)
  .map((f) => join(dir, "images", className, f));
const preset = values.preset === "reference" ? "reference" : "default";
const t0 = performance.now();
const circuit = await buildCircuit({
  manifestPath: join(dir, "manifest.json"),
  images: files,
  className,
  layers: values.layers.split(","),
  params: { preset, tau: Number(values.tau), k: Number(values.k) },
});
const wall = (performance.now() - t0) / 1000;
const peakRssMB = process.resourceUsage().maxRSS / 1024;
if (values.out) writeFileSync(values.out, JSON.stringify(circuit));
const fmt = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? "nan" : v.toFixed(d));
console.log(
  `${dir} [${preset}] on ${circuit.params.backend}: class ${className}, ${circuit.images.length} images, ${circuit.patches.length} patches, τ ${circuit.params.tau}`,
);
console.log(`  wall ${fmt(wall)} s   peak RSS ${fmt(peakRssMB, 0)} MB`);
console.log(
  `  stages (s): ${Object.entries(circuit.timings ?? {})
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(", ")}`,
);
for (const l of circuit.layers) {
  const ig = l.timings?.ig ?? Number.NaN;
  const nodes = [...new Set(l.targets.map((t) => t.igSteps))].sort((a, b) => (a ?? 0) - (b ?? 0));
  const worst = Math.max(0, ...l.targets.map((t) => t.igCompleteness ?? 0));
  console.log(
    `    ${`${l.upper}←${l.lower}`.padEnd(26)} ${String(l.targets.length).padStart(3)} targets, IG ${fmt(ig)} s = ${fmt(ig / Math.max(1, l.targets.length), 2)} s/target, nodes ${nodes.join("/")}, worst completeness ${(worst * 100).toFixed(2)}%`,
  );
}
if (values.reference) {
  const raw = readFileSync(values.reference);
  const ref = JSON.parse((values.reference.endsWith(".gz") ? gunzipSync(raw) : raw).toString()) as ReferenceRun;
  const figures = compareWithReference(circuit, ref);
  const bad = parityFailures(figures);
  console.log(`  ${formatParity(figures)} → ${bad.length ? `SHORT (${bad.join(", ")})` : "PARITY OK"}`);
  if (bad.length) process.exitCode = 1;
}
