/**
 * The engine's benchmark on a GPU machine (WebGPU backend), bundled by the GPU pack script and run
 * there with `bash .gpu/run.sh`. Writes results to $OUT/gpu.json after every step, so a run cut
 * short still reports what it finished.
 *   1. the toyworld-a circuit (bee, τ 8, 8 layers), default settings, with parity figures;
 *   2. one integrated-gradients target of a ResNet50 layer4 block (50 patches × 50 nodes; with the
 *      affine prefix and over the whole slice; and with 16 nodes);
 *   3. a ResNet50-shaped circuit at 224 px (τ 16), as many layer pairs as the time allows.
 * Inputs: tmp/gpu-data/bee.u8 + names.json (the fixture's bee images, decoded beforehand by
 * `npx tsx bench/gpuData.ts`; bring tmp/gpu-data along with the bundle).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { initBackend } from "../server/neurflow/backend";
import { buildCircuit } from "../server/neurflow/circuit";
import { integratedGradients } from "../server/neurflow/integratedGradients";
import { loadModel } from "../server/neurflow/model/loadModel";
import { compareWithReference, parityFailures, type ReferenceRun } from "../server/neurflow/parity";
import { quadratureRule } from "../server/neurflow/quadrature";
import { tf } from "../server/neurflow/tf";
import { saveResnet50 } from "./resnet50";

const OUT = process.env.OUT ?? "tmp/gpu-out";
const budget = Number(process.env.BENCH_SECONDS ?? 400);
// smaller settings for a smoke run on a CPU: BENCH_IG_PATCHES=2 BENCH_REPS=1 BENCH_SECONDS=30
const igPatches = Number(process.env.BENCH_IG_PATCHES ?? 50);
const reps = Number(process.env.BENCH_REPS ?? 4);
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const results: Record<string, unknown> = {};
await mkdir(OUT, { recursive: true });
const save = async () => writeFile(`${OUT}/gpu.json`, JSON.stringify(results, null, 2));
const log = (m: string) => process.stderr.write(`[${elapsed().toFixed(0)}s] ${m}\n`);

const backend = await initBackend();
results.backend = backend;
log(`backend ${backend.name}: ${backend.detail}`);
await save();

// 1. toyworld-a
try {
  const names = JSON.parse(await readFile("tmp/gpu-data/names.json", "utf8")) as string[];
  const pixels = new Uint8Array(await readFile("tmp/gpu-data/bee.u8"));
  const dir = "tests/fixtures/toyworld-a";
  for (const preset of ["default", "reference"] as const) {
    const t0 = performance.now();
    const circuit = await buildCircuit({
      manifestPath: `${dir}/manifest.json`,
      images: { names, pixels, size: 64 },
      className: "bee",
      layers: ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0", "layer2.1", "layer2.0", "layer1.1"],
      params: { preset, tau: 8, k: 50 },
    });
    const ref = JSON.parse(gunzipSync(await readFile(`${dir}/reference/bee-tau8.json.gz`)).toString()) as ReferenceRun;
    const parity = compareWithReference(circuit, ref);
    results[`toyworld_${preset}`] = {
      wallSeconds: (performance.now() - t0) / 1000,
      igSteps: circuit.params.igSteps,
      timings: circuit.timings,
      perLayer: circuit.layers.map((l) => ({
        pair: `${l.upper}←${l.lower}`,
        targets: l.targets.length,
        timings: l.timings,
      })),
      parity,
      parityFailures: parityFailures(parity),
    };
    log(
      `toyworld ${preset}: ${((performance.now() - t0) / 1000).toFixed(1)} s, parity ${parityFailures(parity).join(",") || "OK"}`,
    );
    await save();
  }
} catch (e) {
  results.toyworldError = String((e as Error).stack ?? e);
  await save();
}

// 2. one IG target of a ResNet50 layer4 block: with the affine prefix (the engine's way) and over
// the whole slice at every step (as before it), 50 Gauss–Legendre nodes, and the default 16
const manifestPath = await saveResnet50("/tmp/neurflow-resnet50/model");
try {
  const model = await loadModel(manifestPath);
  const plain = Object.create(model.graph) as typeof model.graph & { affineFrontier?: unknown };
  plain.affineFrontier = undefined;
  const x = tf.tidy(() => tf.randomUniform([igPatches, 7, 7, 2048], 0, 1, "float32", 1).relu());
  const times: Record<string, number[]> = {};
  // [how, graph, nodes, input elements per pass]; session-1 baseline: whole slice, 50 nodes, 2^25 → 0.21 s
  const cases = [
    ["wholeSlice", plain, 50, 1 << 25],
    ["prefix", model.graph, 50, 1 << 24],
    ["prefix", model.graph, 50, 1 << 25],
    ["prefix", model.graph, 50, 1 << 26],
    ["prefix", model.graph, 16, 1 << 25],
  ] as const;
  for (const [how, graph, nodes, rows] of cases) {
    const key = `${how}_N${nodes}_rowElements_${rows}`;
    times[key] = [];
    try {
      for (let rep = 0; rep < reps; rep++) {
        const t0 = performance.now();
        const r = await integratedGradients(
          { graph, lowerTensor: "layer4.1", upperTensor: "layer4.2" },
          5 + rep,
          x,
          quadratureRule("gausslegendre", nodes),
          rows,
        );
        void r.perPatch[0];
        times[key]!.push((performance.now() - t0) / 1000);
      }
    } catch (e) {
      results[`igError_${key}`] = String((e as Error).message);
    }
    log(`IG target ${key}: ${times[key]!.map((t) => t.toFixed(3)).join(" ")} s`);
    results.resnet50IgTarget = times;
    await save();
  }
  x.dispose();
  model.dispose();
} catch (e) {
  results.igError = String((e as Error).stack ?? e);
  await save();
}

// 3. ResNet50-shaped circuit at 224 px, τ 16
try {
  const n = 8;
  const pixels = new Uint8Array(n * 224 * 224 * 3);
  let seed = 7;
  for (let i = 0; i < pixels.length; i++) pixels[i] = (seed = (seed * 1103515245 + 12345) % 2147483648) % 256;
  const model = await loadModel(manifestPath);
  const pred = tf.tidy(() =>
    model.graph
      .run({ [model.inputTensor]: model.preprocess(tf.tensor4d(Float32Array.from(pixels), [n, 224, 224, 3])) }, [
        model.logitsTensor,
      ])[0]!
      .argMax(1),
  );
  const counts = new Map<number, number>();
  for (const c of await pred.data()) counts.set(c, (counts.get(c) ?? 0) + 1);
  model.dispose();
  const cls = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const layers = ["fc", "layer4.2", "layer4.1", "layer4.0", "layer3.5"];
  const ac = new AbortController();
  const pairs: unknown[] = [];
  const t0 = performance.now();
  const circuit = await buildCircuit(
    {
      manifestPath,
      images: { names: Array.from({ length: n }, (_, i) => `${i}.png`), pixels, size: 224 },
      className: `class${cls}`,
      layers,
      params: { tau: 16 },
    },
    {
      signal: ac.signal,
      onProgress: () => {
        if (elapsed() > budget) ac.abort();
      },
      onCheckpoint: async (c) => {
        const l = c.layers[c.layers.length - 1]!;
        pairs.push({ pair: `${l.upper}←${l.lower}`, targets: l.targets.length, timings: l.timings });
        results.resnet50Circuit = { pairs, secondsSoFar: (performance.now() - t0) / 1000 };
        log(`resnet50 ${l.upper}←${l.lower}: ${l.targets.length} targets, ${l.timings?.total?.toFixed(1)} s`);
        await save();
      },
    },
  ).catch((e: Error) => (e.name === "AbortError" ? null : Promise.reject(e)));
  results.resnet50Circuit = {
    pairs,
    complete: circuit !== null,
    wallSeconds: (performance.now() - t0) / 1000,
    activations: circuit?.timings?.activations,
  };
  await save();
} catch (e) {
  results.resnet50Error = String((e as Error).stack ?? e);
  await save();
}
log("done");
