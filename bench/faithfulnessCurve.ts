/**
 * The faithfulness curve of a freshly built circuit, without the platform: builds the class's circuit
 * (toy-world images of the fixture, layers fc → layer3.1, k 20, N 8) at a chosen τ, takes the
 * viewer's subsets at thresholds 0, 0.01, …, 1 in both modes (server/evaluations/faithfulnessSubsets.ts)
 * and prints where the kept neurons change, the logit retained there and the random band, with the
 * engine's time. Usage: npx tsx bench/faithfulnessCurve.ts [modelDir=models/toyworld] [tau=8] [draws=50]
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { SLIDER_THRESHOLDS } from "~/lib/evaluations/params";
import { faithfulnessSubsets, subsetGraphOf } from "~/server/evaluations/faithfulnessSubsets";

const modelDir = process.argv[2] ?? "models/toyworld";
const tau = Number(process.argv[3] ?? 8);
const draws = Number(process.argv[4] ?? 50);
const engine = await import("~/server/neurflow");
await engine.initBackend();
const dir = join("tests", "fixtures", "toyworld-a", "images", "bee");
const images = readdirSync(dir)
  .sort()
  .map((f) => join(process.cwd(), dir, f));
let t = performance.now();
const circuit = await engine.buildCircuit(
  {
    manifestPath: join(modelDir, "manifest.json"),
    images,
    className: "bee",
    layers: ["fc", "layer4.1", "layer4.0", "layer3.1"],
    params: { tau, k: 20, igSteps: 8 },
  },
  {},
);
console.log(
  `circuit: ${modelDir}, bee, τ ${tau}, ${images.length} images, built in ${((performance.now() - t) / 1000).toFixed(1)} s`,
);
const graph = subsetGraphOf(circuit);
const { configs, series } = faithfulnessSubsets(graph, circuit, SLIDER_THRESHOLDS);
const data = await engine.loadEvaluationData(circuit, join(modelDir, "manifest.json"), dir);
t = performance.now();
const r = await engine.faithfulnessCurve(circuit, data.model, data.images, {
  subsets: configs.map((c) => c.keep),
  draws,
});
console.log(
  `curve: ${configs.length} distinct subsets, ${graph.groups.length} groups, ${graph.edges.length} edges, ${draws} draws, ${((performance.now() - t) / 1000).toFixed(1)} s on ${engine.backendInfo()?.name}`,
);
console.log(
  `class logit: full ${r.full.logit.toFixed(3)} (accuracy ${r.full.accuracy}), masked layers emptied ${r.empty.logit.toFixed(3)} (accuracy ${r.empty.accuracy})`,
);
for (const mode of ["global", "perLayer"] as const) {
  let last = -1;
  for (const p of series[mode]) {
    if (p.config === last) continue;
    last = p.config;
    const q = r.points[p.config]!;
    const rnd = q.random
      ? `random ${q.random.mean.toFixed(3)} [${q.random.low.toFixed(3)}, ${q.random.high.toFixed(3)}], beats ${q.random.draws - q.random.atLeast}/${q.random.draws}`
      : "";
    console.log(
      `  ${mode.padEnd(8)} from ${p.threshold.toFixed(2)}: neurons ${q.neurons.join("/")} (${r.layers.join(", ")}), logit retained ${q.logitRetained?.toFixed(3)} ${rnd}`,
    );
  }
}
data.dispose();
