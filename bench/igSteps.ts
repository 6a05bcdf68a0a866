/**
 * How many Gauss–Legendre nodes integrated gradients needs: for sample targets of every layer pair
 * of the toyworld-a bee circuit, IG with N nodes against N = 50 — the worst completeness error,
 * the core-set (τ = 8) Jaccard and the importance Spearman. Usage: tsx bench/igSteps.ts [targets per pair]
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { activationColumn, computeActivations } from "../server/neurflow/activations";
import { initBackend } from "../server/neurflow/backend";
import { spearman } from "../server/neurflow/clustering";
import { channelImportance, selectCoreNeurons, topIndices } from "../server/neurflow/coreNeurons";
import { loadClassImages } from "../server/neurflow/images";
import { loadModel } from "../server/neurflow/model/loadModel";
import type { ReferenceRun } from "../server/neurflow/parity";
import { patchGrid } from "../server/neurflow/patches";
import { quadratureRule } from "../server/neurflow/quadrature";
import { attributeTarget } from "../server/neurflow/targetAttribution";
import { tf } from "../server/neurflow/tf";

const dir = "tests/fixtures/toyworld-a";
const perPair = Number(process.argv[2] ?? 3);
const NODES = [2, 3, 4, 6, 8, 12, 16];
await initBackend();
const model = await loadModel(`${dir}/manifest.json`);
const ref = JSON.parse(gunzipSync(readFileSync(`${dir}/reference/bee-tau8.json.gz`)).toString()) as ReferenceRun;
const imgs = await loadClassImages(`${dir}/images/bee`, 64);
const images = tf.tidy(() => model.preprocess(tf.tensor4d(imgs.pixels, [imgs.names.length, 64, 64, 3])));
const patches = patchGrid(imgs.names.length, 64, [1, 0.5, 0.25], 0.5);
const names = ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0", "layer2.1", "layer2.0", "layer1.1"];
const tensors = names.map((n) => model.layerTensor(n));
const acts = await computeActivations(model.graph, images, patches, tensors, 64);
const rows: Record<number, { completeness: number[]; jaccard: number[]; rho: number[]; seconds: number[] }> = {};
for (const n of [...NODES, 50]) rows[n] = { completeness: [], jaccard: [], rho: [], seconds: [] };
for (let li = 0; li < names.length - 1; li++) {
  const targets = Object.keys(ref.layers[li]!.targets).map(Number).slice(0, perPair);
  for (const t of targets) {
    const col = activationColumn(acts[li]!, t);
    const top = topIndices(col, 50);
    const results = new Map<number, { imp: Float64Array; core: number[] }>();
    for (const n of [50, ...NODES]) {
      const t0 = performance.now();
      const task = {
        lowerTensor: tensors[li + 1]!,
        upperTensor: tensors[li]!,
        target: t,
        topPatches: top,
        topActivations: top.map((p) => col[p]!),
      };
      const r = await attributeTarget(model.graph, images, patches, task, {
        rules: [quadratureRule("gausslegendre", n)],
        tolerance: Infinity,
      });
      rows[n]!.seconds.push((performance.now() - t0) / 1000);
      const worst = r.completeness;
      const imp = channelImportance(r.perPatch, top.length, r.channels, "absMean");
      const core = selectCoreNeurons(imp, 8);
      results.set(n, { imp, core });
      const base = results.get(50)!;
      const inter = core.filter((c) => base.core.includes(c)).length;
      rows[n]!.completeness.push(worst);
      rows[n]!.jaccard.push(inter / (2 * 8 - inter));
      rows[n]!.rho.push(spearman(Array.from(base.imp), Array.from(imp)));
    }
    process.stderr.write(`${names[li]}←${names[li + 1]} target ${t} done\n`);
  }
}
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
console.log("nodes  worst completeness  mean completeness  core J mean  core J min  importance ρ mean  s/target");
for (const n of [...NODES, 50]) {
  const r = rows[n]!;
  console.log(
    `${String(n).padStart(5)}  ${(Math.max(...r.completeness) * 100).toFixed(3).padStart(17)}%  ${(mean(r.completeness) * 100).toFixed(3).padStart(16)}%  ${mean(r.jaccard).toFixed(3).padStart(11)}  ${Math.min(
      ...r.jaccard,
    )
      .toFixed(3)
      .padStart(10)}  ${mean(r.rho).toFixed(5).padStart(17)}  ${mean(r.seconds).toFixed(2).padStart(8)}`,
  );
}
