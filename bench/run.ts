/**
 * `npm run bench`: the engine's benchmarks. Each run is a separate process so peak memory is its own.
 *   toyworld-a circuit (class bee, τ 8, 16 images, 8 layers) with the default settings and with
 *   the reference preset: wall time, peak RSS, per-stage breakdown, parity with the reference run.
 *   the circuit viewer (bench/viewer.ts): server render time of the circuit page and the browser's
 *   time to interactive for a generated 500-group circuit.
 * Pass names to run a subset: npm run bench -- default reference viewer
 */
import { spawnSync } from "node:child_process";

const all = ["default", "reference"];
const chosen = process.argv.slice(2).filter((a) => all.includes(a));
const wantViewer = process.argv.slice(2).includes("viewer");
const runs = chosen.length ? chosen : wantViewer ? [] : all;
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
  console.log(`  stages (s): ${Object.entries(res.stages as Record<string, number>).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")}`);
  for (const l of res.perLayer) console.log(`    ${l.pair.padEnd(20)} ${String(l.targets).padStart(3)} targets ${fmt(l.seconds)} s`);
  console.log(
    `  parity: targets J ${fmt(p.targetJaccard, 3)}, top ${fmt(p.topOverlap, 3)}, core J ${fmt(p.coreJaccard, 3)} (min ${fmt(p.coreJaccardMin, 2)}), ` +
      `importance ρ ${fmt(p.importanceSpearman, 4)}, edge Δmax ${Number(p.edgeWeightMaxDiff).toExponential(2)}, ` +
      `semantic ARI ${fmt(p.semanticAri, 3)}, group ARI ${fmt(p.neuronGroupAri, 3)} → ${res.parityFailures.length ? `SHORT (${res.parityFailures.join(", ")})` : "OK"}`,
  );
  console.log(`  worst IG completeness error ${(res.worstCompleteness * 100).toFixed(2)}%`);
}

// the circuit viewer on a generated 500-group circuit (bench/viewer.ts): with no names, or "viewer"
if (wantViewer || chosen.length === 0) {
  process.stderr.write("bench: circuit viewer, 500 groups …\n");
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/viewer.ts"], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) {
    console.log(`viewer: failed (exit ${r.status})`);
    process.exitCode = 1;
  }
}
