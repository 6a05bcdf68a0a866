/**
 * `npm run bench`: the engine's benchmarks. Each run is a separate process so peak memory is its own.
 *   toyworld-a circuit (class bee, τ 8, 16 images, 8 layers) with the default settings and with
 *   the reference preset: wall time, peak RSS, per-stage breakdown, parity with the reference run.
 *   the circuit viewer (bench/viewer.ts): server render time of the circuit page and the browser's
 *   time to interactive for a generated 500-group circuit.
 *   resnet50 (only when named; several minutes on a CPU): a ResNet50-shaped model at 224 px, one
 *   layer pair of a circuit (bench/resnet50Circuit.ts): time per target neuron and peak RSS.
 *   paper (only when named): the engine on a model directory of the reference harness's
 *   paper_arch.py (torchvision ResNet50 / GoogLeNet at 224 px), side-by-side-ready numbers and
 *   parity with a recorded run of the authors' code (bench/paperModel.ts; its options follow "paper").
 * Pass names to run a subset: npm run bench -- default reference viewer resnet50
 *   npm run bench -- paper --model /tmp/paper/resnet50-224c --layers fc,layer4.2,layer4.1,layer4.0 --tau 4
 */
import { spawnSync } from "node:child_process";

const all = ["default", "reference"];
const paperAt = process.argv.indexOf("paper");
if (paperAt >= 2) {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "bench/paperModel.ts", ...process.argv.slice(paperAt + 1)],
    { stdio: "inherit" },
  );
  process.exit(r.status ?? 1);
}
const chosen = process.argv.slice(2).filter((a) => all.includes(a));
const wantViewer = process.argv.slice(2).includes("viewer");
const wantResnet = process.argv.slice(2).includes("resnet50");
const runs = chosen.length ? chosen : wantViewer || wantResnet ? [] : all;
const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "nan");

for (const preset of runs) {
  process.stderr.write(`bench: toyworld-a circuit, preset ${preset} …\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/toyworldCircuit.ts", preset], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 26,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{")) {
    console.log(`toyworld-a [${preset}]: failed (exit ${r.status})`);
    process.exitCode = 1;
    continue;
  }
  const res = JSON.parse(line);
  const p = res.parity;
  console.log(`toyworld-a circuit [${preset}] on ${res.backend}, N=${res.igSteps}`);
  console.log(`  wall ${fmt(res.wallSeconds)} s   peak RSS ${fmt(res.peakRssMB, 0)} MB`);
  console.log(
    `  stages (s): ${Object.entries(res.stages as Record<string, number>)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(", ")}`,
  );
  for (const l of res.perLayer)
    console.log(`    ${l.pair.padEnd(20)} ${String(l.targets).padStart(3)} targets ${fmt(l.seconds)} s`);
  console.log(
    `  parity: targets J ${fmt(p.targetJaccard, 3)}, top ${fmt(p.topOverlap, 3)}, core J ${fmt(p.coreJaccard, 3)} (min ${fmt(p.coreJaccardMin, 2)}), ` +
      `importance ρ ${fmt(p.importanceSpearman, 4)}, edge Δmax ${Number(p.edgeWeightMaxDiff).toExponential(2)}, ` +
      `semantic ARI ${fmt(p.semanticAri, 3)}, group ARI ${fmt(p.neuronGroupAri, 3)} → ${res.parityFailures.length ? `SHORT (${res.parityFailures.join(", ")})` : "OK"}`,
  );
  console.log(`  worst IG completeness error ${(res.worstCompleteness * 100).toFixed(2)}%`);
}

if (wantResnet) {
  process.stderr.write("bench: ResNet50-shaped model at 224 px, fc → layer4.2 → layer4.1, τ 16 …\n");
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/resnet50Circuit.ts", "--images", "4"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 26,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{")) {
    console.log(`resnet50: failed (exit ${r.status})`);
    process.exitCode = 1;
  } else {
    const res = JSON.parse(line);
    console.log(`resnet50-shaped circuit at 224 px on ${res.backend}: ${res.images} images, ${res.patches} patches`);
    console.log(
      `  wall ${fmt(res.wallSeconds)} s (activations ${fmt(res.activationSeconds)} s)   peak RSS ${fmt(res.peakRssMB, 0)} MB`,
    );
    for (const l of res.pairs)
      console.log(
        `    ${l.pair.padEnd(20)} ${String(l.targets).padStart(3)} targets ${fmt(l.seconds)} s, ${fmt(l.secondsPerTarget, 2)} s per target`,
      );
  }
}

// the circuit viewer on a generated 500-group circuit (bench/viewer.ts): with no names, or "viewer"
if (wantViewer || chosen.length === 0) {
  process.stderr.write("bench: circuit viewer, 500 groups …\n");
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/viewer.ts"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0) {
    console.log(`viewer: failed (exit ${r.status})`);
    process.exitCode = 1;
  }
}
