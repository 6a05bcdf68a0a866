/**
 * One toyworld-a circuit (class bee, τ 8, layers fc … layer1.1) in this process; prints one JSON
 * line with wall time, peak RSS, the per-stage breakdown and the parity figures against the
 * reference run. Usage: tsx bench/toyworldCircuit.ts [default|reference]
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { buildCircuit } from "../server/neurflow/circuit";
import { compareWithReference, parityFailures, type ReferenceRun } from "../server/neurflow/parity";
import type { PresetName } from "../server/neurflow/presets";

const dir = "tests/fixtures/toyworld-a";
const preset = (process.argv[2] ?? "default") as PresetName;
const started = performance.now();
const circuit = await buildCircuit({
  manifestPath: `${dir}/manifest.json`,
  images: `${dir}/images/bee`,
  className: "bee",
  layers: ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0", "layer2.1", "layer2.0", "layer1.1"],
  params: { preset, tau: 8, k: 50 },
});
const wall = (performance.now() - started) / 1000;
const reference = JSON.parse(gunzipSync(readFileSync(`${dir}/reference/bee-tau8.json.gz`)).toString()) as ReferenceRun;
const parity = compareWithReference(circuit, reference);
const stages: Record<string, number> = { ...circuit.timings };
for (const l of circuit.layers)
  for (const [k, v] of Object.entries(l.timings ?? {})) if (k !== "total") stages[k] = (stages[k] ?? 0) + v;
const worstCompleteness = Math.max(...circuit.layers.flatMap((l) => l.targets.map((t) => t.igCompleteness ?? 0)));
console.log(
  JSON.stringify({
    preset,
    backend: circuit.params.backend,
    igSteps: circuit.params.igSteps,
    wallSeconds: wall,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    stages,
    perLayer: circuit.layers.map((l) => ({
      pair: `${l.upper}←${l.lower}`,
      targets: l.targets.length,
      seconds: l.timings?.total,
    })),
    worstCompleteness,
    parity,
    parityFailures: parityFailures(parity),
  }),
);
