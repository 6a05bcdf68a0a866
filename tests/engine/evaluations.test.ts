/**
 * Masking, metric M, image debugging, group masking and the three evaluations, checked against
 * hand computation on a tiny linear model whose every activation is a known linear map of the
 * layer below:  a = x·Wa (1×1 conv), b = a·Wb (1×1 conv), logits = mean(b)·Wf.
 * Spatial means commute with the linear maps, so each expected value is computed here in plain
 * arithmetic from layer a's spatial means (or the pixels' means for whole images).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { computeActivations } from "../../server/neurflow/activations";
import { initBackend } from "../../server/neurflow/backend";
import { buildCircuit } from "../../server/neurflow/circuit";
import type { Circuit } from "../../server/neurflow/circuitFormat";
import { topIndices } from "../../server/neurflow/coreNeurons";
import { coreNeuronsAtTau } from "../../server/neurflow/evaluations/coreNeuronsAtTau";
import { loadEvaluationData, type EvaluationData } from "../../server/neurflow/evaluations/evaluationData";
import { fidelityOfNeurons } from "../../server/neurflow/evaluations/fidelityOfNeurons";
import { fidelityOfWeights } from "../../server/neurflow/evaluations/fidelityOfWeights";
import {
  knockoutActivations,
  knockoutSlice,
  disposeSlice,
  topKRetention,
} from "../../server/neurflow/evaluations/knockout";
import { withKnockouts } from "../../server/neurflow/evaluations/knockoutRunner";
import { optimality } from "../../server/neurflow/evaluations/optimality";
import { sampleWithoutReplacement, seededRandom } from "../../server/neurflow/evaluations/sampling";
import { meanInterval, pearson, studentTQuantile } from "../../server/neurflow/evaluations/statistics";
import { maskGroups, maskedNeurons } from "../../server/neurflow/groupMasking";
import { debugImages } from "../../server/neurflow/imageDebugging";
import { accuracyOf, keepVector, maskedLogits, orderMasks } from "../../server/neurflow/masking";
import { groupReferences, metricM } from "../../server/neurflow/metricM";
import { listImages, loadClassImages } from "../../server/neurflow/images";
import { loadModel } from "../../server/neurflow/model/loadModel";
import { patchGrid } from "../../server/neurflow/patches";
import { tf } from "../../server/neurflow/tf";
import { saveLayersModel } from "../../server/toyworld/modelFiles";

const WA = [
  [1, 0, 0, 1],
  [0, 1, 0, 1],
  [0, 0, 1, 0],
]; // 3 → 4: a = [x0, x1, x2, x0 + x1]
const WB = [
  [1, 0, 0.5],
  [0, 1, 0.5],
  [0.5, 0.5, 0],
  [-1, 0, 1],
]; // 4 → 3
const WF = [
  [1, -1],
  [0.5, 0.5],
  [-1, 1],
]; // 3 → 2
const S = 8;
const N = 6;

function linear(v: number[], W: number[][]): number[] {
  return W[0]!.map((_, j) => v.reduce((s, x, i) => s + x * W[i]![j]!, 0));
}
const keepOf = (n: number, zeroed: number[]) => Array.from({ length: n }, (_, i) => (zeroed.includes(i) ? 0 : 1));
const times = (v: number[], keep: number[]) => v.map((x, i) => x * keep[i]!);

function buildModel(): tf.LayersModel {
  const input = tf.input({ shape: [S, S, 3], name: "image" });
  const a = tf.layers
    .conv2d({ filters: 4, kernelSize: 1, useBias: false, name: "a", weights: [tf.tensor4d(WA.flat(), [1, 1, 3, 4])] })
    .apply(input) as tf.SymbolicTensor;
  const b = tf.layers
    .conv2d({ filters: 3, kernelSize: 1, useBias: false, name: "b", weights: [tf.tensor4d(WB.flat(), [1, 1, 4, 3])] })
    .apply(a) as tf.SymbolicTensor;
  const pool = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(b) as tf.SymbolicTensor;
  const fc = tf.layers
    .dense({ units: 2, useBias: false, name: "fc", weights: [tf.tensor2d(WF)] })
    .apply(pool) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: fc, name: "linear3" });
}

/** Pixels where blue dominates (class 0: logit0 − logit1 = x2 − 3·x0 − 5·x1), with structure so patches differ. */
function makePixels(): Float32Array {
  const rand = seededRandom(7);
  const px = new Float32Array(N * S * S * 3);
  for (let i = 0; i < N; i++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const o = ((i * S + y) * S + x) * 3;
        px[o] = rand() * 20 * ((x + i) % 3);
        px[o + 1] = rand() * 12 * ((y + i) % 2);
        px[o + 2] = 120 + rand() * 135 * (((x * y + i) % 4) / 3);
      }
  return px;
}

describe("evaluations on a linear model", () => {
  let dir: string;
  let circuit: Circuit;
  let data: EvaluationData;
  let aMeans: number[][]; // per patch, layer a's spatial means
  let imageMeans: number[][]; // per image, pixel means (= layer a input means)

  beforeAll(async () => {
    await initBackend();
    dir = mkdtempSync(join(tmpdir(), "nf-eval-"));
    const model = buildModel();
    await saveLayersModel(model, dir);
    model.dispose();
    writeFileSync(
      join(dir, "manifest.json"),
      JSON.stringify({
        name: "linear3",
        format: "tfjs-layers",
        file: "model.json",
        input: { size: S, layout: "NHWC", scale: 1 },
        classes: ["blue", "other"],
        layers: [
          { name: "a", tensor: "a" },
          { name: "b", tensor: "b" },
          { name: "fc", tensor: "fc" },
        ],
      }),
    );
    const pixels = makePixels();
    const images = { names: Array.from({ length: N }, (_, i) => `img${i}.png`), pixels, size: S };
    circuit = await buildCircuit(
      {
        manifestPath: join(dir, "manifest.json"),
        images,
        className: "blue",
        layers: ["fc", "b", "a"],
        params: { tau: 2, k: 12, maxSemanticGroups: 3, maxNeuronGroups: 3 },
      },
      { workers: 1 },
    );
    data = await loadEvaluationData(circuit, join(dir, "manifest.json"), images);
    const [acts] = await computeActivations(data.model.graph, data.images, data.patches, ["a"], 64);
    aMeans = Array.from({ length: data.patches.length }, (_, p) => Array.from(acts!.means.subarray(p * 4, p * 4 + 4)));
    imageMeans = Array.from({ length: N }, (_, i) => {
      const m = [0, 0, 0];
      for (let q = 0; q < S * S; q++) for (let c = 0; c < 3; c++) m[c]! += pixels[(i * S * S + q) * 3 + c]! / (S * S);
      return m;
    });
  }, 120_000);

  afterAll(() => data?.dispose());

  test("the circuit covers every image (all are class 0) and its layers", () => {
    expect(circuit.images).toHaveLength(N);
    expect(circuit.layers.map((l) => `${l.upper}←${l.lower}`)).toEqual(["fc←b", "b←a"]);
  });

  test("masking: logits equal the hand-computed linear maps, one layer and several", async () => {
    const handLogits = (keepA: number[], keepB: number[]) =>
      imageMeans.map((m) => linear(times(linear(times(linear(m, WA), keepA), WB), keepB), WF));
    const cases = [
      { masks: [], keepA: keepOf(4, []), keepB: keepOf(3, []) },
      { masks: [{ layer: "a", channels: [3], mode: "mask" as const }], keepA: keepOf(4, [3]), keepB: keepOf(3, []) },
      { masks: [{ layer: "b", channels: [2], mode: "retain" as const }], keepA: keepOf(4, []), keepB: [0, 0, 1] },
      // given top-down: the order of the masks does not matter
      {
        masks: [
          { layer: "b", channels: [0], mode: "mask" as const },
          { layer: "a", channels: [0, 1], mode: "retain" as const },
        ],
        keepA: [1, 1, 0, 0],
        keepB: [0, 1, 1],
      },
    ];
    for (const c of cases) {
      const got = await maskedLogits(data.model, data.images, c.masks);
      const want = handLogits(c.keepA, c.keepB);
      for (let i = 0; i < N; i++)
        for (let j = 0; j < 2; j++) expect(got.logits[i * 2 + j]).toBeCloseTo(want[i]![j]!, 2);
      const acc = want.filter((l) => l[0]! > l[1]!).length / N;
      expect(accuracyOf(got, 0)).toBe(acc);
    }
  });

  test("masking rejects unknown layers, repeated layers and channels out of range", () => {
    expect(() => orderMasks(data.model, [{ layer: "nope", channels: [0], mode: "mask" }])).toThrow(
      /unknown layer "nope"/,
    );
    expect(() =>
      orderMasks(data.model, [
        { layer: "a", channels: [0], mode: "mask" },
        { layer: "a", channels: [1], mode: "mask" },
      ]),
    ).toThrow(/masked twice/);
    expect(() => keepVector({ layer: "a", channels: [4], mode: "mask" }, 4)).toThrow(
      /has 4 channels; cannot mask channel 4/,
    );
    expect(Array.from(keepVector({ layer: "a", channels: [1, 2], mode: "retain" }, 4))).toEqual([0, 1, 1, 0]);
  });

  test("knockout: the target's activation with channels zeroed, and top-k retention, by hand", async () => {
    const slice = knockoutSlice(data.model, data.images, data.patches, "a", "b", 50);
    try {
      for (const [target, zeroed] of [
        [0, [3]],
        [2, [0, 1]],
        [1, []],
      ] as const) {
        const got = await knockoutActivations(slice, target, zeroed);
        const want = aMeans.map((a) => linear(times(a, keepOf(4, [...zeroed])), WB)[target]!);
        want.forEach((w, p) => expect(got[p]).toBeCloseTo(w, 2));
      }
      // retention: top-5 of channel 0, then zero channel 3 (weight −1) and channel 0 (weight +1)
      const base = aMeans.map((a) => linear(a, WB)[0]!);
      const top = topIndices(base, 5);
      const after = aMeans.map((a) => linear(times(a, keepOf(4, [0])), WB)[0]!);
      const kept = topIndices(after, 5).filter((p) => top.includes(p)).length / 5;
      expect(topKRetention(top, Float32Array.from(after))).toBe(kept);
      expect(topKRetention([1, 2], Float32Array.from([0, 5, 4, 1]))).toBe(1);
      expect(topKRetention([0, 3], Float32Array.from([0, 5, 4, 1]))).toBe(0);
    } finally {
      disposeSlice(slice);
    }
  });

  test("optimality: core sets are the top-τ importance, retentions and the difference recomputed by hand", async () => {
    const r = await optimality(circuit, data.model, data.images, data.patches, {
      taus: [1, 2],
      targets: 2,
      randomSets: 6,
      k: 10,
      seed: 3,
      pairs: [1],
    });
    expect(r.cells.map((c) => c.tau)).toEqual([1, 2]);
    const layer = circuit.layers[1]!;
    for (const cell of r.cells) {
      expect(cell.cases).toBe(cell.targets.length * 6);
      expect(cell.coreBeatsRandom + cell.ties + cell.randomBeatsCore).toBe(cell.cases);
      const diffs: number[] = [];
      for (const t of cell.targets) {
        const target = layer.targets.find((x) => x.neuron === t.neuron)!;
        expect(t.core).toEqual(topIndices(target.importance, cell.tau));
        const base = aMeans.map((a) => linear(a, WB)[t.neuron]!);
        const top = topIndices(base, 10);
        const after = aMeans.map((a) => linear(times(a, keepOf(4, t.core)), WB)[t.neuron]!);
        expect(t.coreRetention).toBe(topIndices(after, 10).filter((p) => top.includes(p)).length / 10);
        t.randomRetentions.forEach((x) => diffs.push(x - t.coreRetention));
      }
      const m = diffs.reduce((a, b) => a + b, 0) / diffs.length;
      expect(cell.difference.mean).toBeCloseTo(m, 12);
      expect(cell.difference.low).toBeLessThanOrEqual(m);
      expect(cell.difference.high).toBeGreaterThanOrEqual(m);
    }
    // τ as wide as the layer cannot be compared with random sets
    const wide = await optimality(circuit, data.model, data.images, data.patches, {
      taus: [4],
      targets: 1,
      randomSets: 2,
      k: 10,
      pairs: [1],
    });
    expect(wide.cells).toHaveLength(0);
    expect(wide.skipped[0]!.reason).toMatch(/4 channels, not more than τ = 4/);
  });

  test("fidelity of neurons: accuracies equal the hand-computed masked predictions", async () => {
    const r = await fidelityOfNeurons(circuit, data.model, data.images, 0, { taus: [1, 2], draws: 2, seed: 1 });
    expect(r.layers).toEqual(["b", "a"]);
    expect(r.unmaskedAccuracy).toBe(1);
    const cores = [1, 2].map((tau) => coreNeuronsAtTau(circuit, tau));
    for (const c of r.curves) {
      const layers = cores[c.tau - 1]!;
      c.core.forEach((acc, j) => {
        const involved = c.scope === "single" ? [j] : Array.from({ length: j + 1 }, (_, i) => i);
        const keep = (li: number, width: number) => {
          if (!involved.includes(li)) return keepOf(width, []);
          const chosen = layers[li]!.neurons;
          return c.mode === "mask"
            ? keepOf(width, chosen)
            : Array.from({ length: width }, (_, i) => (chosen.includes(i) ? 1 : 0));
        };
        const logits = imageMeans.map((m) =>
          linear(times(linear(times(linear(m, WA), keep(1, 4)), WB), keep(0, 3)), WF),
        );
        expect(acc).toBe(logits.filter((l) => l[0]! > l[1]!).length / N);
      });
      expect(c.baseline.every((x) => x >= 0 && x <= 1)).toBe(true);
    }
    await expect(fidelityOfNeurons(circuit, data.model, data.images, 0, { taus: [3] })).rejects.toThrow(
      /larger than the circuit's τ = 2/,
    );
  });

  test("fidelity of weights: Pearson r of summed importance vs retention, recomputed by hand for single neurons", async () => {
    const r = await fidelityOfWeights(circuit, data.model, data.images, data.patches, {
      pairs: [1],
      targets: 1,
      setSizes: [1, 2],
      randomSets: 8,
      k: 10,
      seed: 5,
    });
    const pair = r.pairs[0]!;
    const t = pair.targets[0]!;
    const target = circuit.layers[1]!.targets.find((x) => x.neuron === t.neuron)!;
    const base = aMeans.map((a) => linear(a, WB)[t.neuron]!);
    const top = topIndices(base, 10);
    const retention = [0, 1, 2, 3].map((c) => {
      const after = aMeans.map((a) => linear(times(a, keepOf(4, [c])), WB)[t.neuron]!);
      return topIndices(after, 10).filter((p) => top.includes(p)).length / 10;
    });
    const single = t.correlations.find((c) => c.size === 1)!;
    expect(single.sets).toBe(4);
    expect(single.r).toBeCloseTo(pearson(target.importance, retention), 10);
    expect(t.correlations.find((c) => c.size === 2)!.sets).toBe(8);
    expect(pair.summary.find((s) => s.size === 1)!.absR).toBeCloseTo(Math.abs(single.r), 12);
  });

  test("optimality and fidelity of weights on two worker threads equal the in-process results", async () => {
    const opts = { taus: [1, 2], targets: 2, randomSets: 9, k: 10, seed: 7 };
    const local = await optimality(circuit, data.model, data.images, data.patches, opts);
    const progress: number[] = [];
    const pooled = await withKnockouts(
      data,
      async (runner) => {
        expect(runner.workers).toBe(2);
        return optimality(circuit, data.model, data.images, data.patches, {
          ...opts,
          runner,
          onProgress: (p) => progress.push(p.done),
        });
      },
      2,
    );
    expect(pooled.cells).toEqual(local.cells);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const wOpts = { pairs: [1], targets: 2, setSizes: [1, 2], randomSets: 8, k: 10, seed: 5 };
    const wLocal = await fidelityOfWeights(circuit, data.model, data.images, data.patches, wOpts);
    const wPooled = await withKnockouts(
      data,
      (runner) => fidelityOfWeights(circuit, data.model, data.images, data.patches, { ...wOpts, runner }),
      2,
    );
    expect(wPooled.pairs).toEqual(wLocal.pairs);
    // without a model source (a loaded model was passed) the knockouts stay in this thread
    const { source: _source, ...noSource } = data;
    await withKnockouts(noSource, async (runner) => expect(runner.workers).toBe(0), 2);
  }, 60_000);

  test("metric M: the geometric mean of activation over reference, by hand", () => {
    const ref = { neurons: [0, 2], references: [2, 4] };
    expect(metricM([1, 99, 4], ref)).toBeCloseTo(Math.sqrt((1 / 2) * (4 / 4)), 5);
    expect(metricM([-3, 0, 4], ref)).toBeLessThan(1e-2); // a negative activation counts as 0
    const refs = groupReferences(circuit, 1);
    const layer = circuit.layers[1]!;
    for (const g of refs) {
      const group = layer.neuronGroups.find((x) => x.id === g.groupId)!;
      group.members.forEach((m, i) => {
        // the mean over the neuron's member semantic groups of its mean top activation there
        const t = layer.targets.find((x) => x.neuron === m.neuron)!;
        const sgs = group.members.filter((x) => x.neuron === m.neuron).map((x) => x.semanticGroup);
        const per = sgs.map((sg) => {
          const v = t.topActivations.filter((_, j) => t.semanticGroups[j] === sg);
          return v.reduce((a, b) => a + b, 0) / v.length;
        });
        expect(g.references[i]).toBeCloseTo(per.reduce((a, b) => a + b, 0) / per.length, 5);
      });
    }
  });

  test("image debugging: each group's score is its best crop's metric M", async () => {
    const r = await debugImages(circuit, data.model, data.images.slice(0, 2), { layerIndex: 1, topCrops: 3 });
    const crops = patchGrid(2, S, circuit.params.granularities, circuit.params.strideRatio);
    const [acts] = await computeActivations(data.model.graph, data.images.slice(0, 2), crops, ["a"], 64);
    const refs = groupReferences(circuit, 1);
    r.images.forEach((img, i) => {
      for (const g of img.groups) {
        const ref = refs.find((x) => x.groupId === g.groupId)!;
        const scores = crops.flatMap((p, row) =>
          p[0] === i ? [metricM(linear(Array.from(acts!.means.subarray(row * 4, row * 4 + 4)), WB), ref)] : [],
        );
        expect(g.score).toBeCloseTo(Math.max(...scores), 4);
        expect(g.topCrops[0]!.score).toBeCloseTo(g.score, 10);
      }
      expect(img.groups.map((g) => g.score)).toEqual([...img.groups.map((g) => g.score)].sort((a, b) => b - a));
      expect(img.predicted).toBe(0);
    });
  });

  test("group masking: probabilities before and after, by hand; bad requests are refused", async () => {
    const layer = circuit.layers[1]!;
    const group = layer.neuronGroups[0]!;
    const r = await maskGroups(
      circuit,
      data.model,
      data.images,
      { layerIndex: 1, groups: [group.id], draws: 2, topPatches: 3 },
      { images: data.images, patches: data.patches },
    );
    const neurons = [...new Set(group.members.map((m) => m.neuron))].sort((a, b) => a - b);
    expect(r.neurons).toEqual(neurons);
    const prob = (keepB: number[]) =>
      imageMeans.map((m) => {
        const l = linear(times(linear(linear(m, WA), WB), keepB), WF);
        return 1 / (1 + Math.exp(l[1]! - l[0]!));
      });
    prob(keepOf(3, [])).forEach((p, i) => expect(r.before[i]).toBeCloseTo(p, 4));
    prob(keepOf(3, neurons)).forEach((p, i) => expect(r.after[i]).toBeCloseTo(p, 4));
    expect(r.topDropPatches).toHaveLength(3);
    expect(r.topDropPatches[0]!.drop).toBeGreaterThanOrEqual(r.topDropPatches[2]!.drop);
    expect(maskedNeurons(circuit, 1, "core")).toEqual(layer.targets.map((t) => t.neuron).sort((a, b) => a - b));
    expect(() => maskedNeurons(circuit, 1, [99])).toThrow(/has no neuron group 99/);
    expect(() => maskedNeurons(circuit, 0, "core")).toThrow(/class logit/);
    expect(() => maskedNeurons(circuit, 5, [0])).toThrow(/no layer pair 5/);
  });

  test("the circuit at a smaller τ is exact: at the circuit's τ it is the stored circuit", () => {
    const same = coreNeuronsAtTau(circuit);
    same.forEach((l, i) => {
      const stored = [...new Set(circuit.layers[i]!.targets.flatMap((t) => t.coreNeurons))].sort((a, b) => a - b);
      expect(l.neurons).toEqual(stored);
      expect(l.targets).toEqual(circuit.layers[i]!.targets.map((t) => t.neuron).sort((a, b) => a - b));
    });
    const one = coreNeuronsAtTau(circuit, 1);
    expect(one[0]!.neurons).toEqual([topIndices(circuit.layers[0]!.targets[0]!.importance, 1)[0]]);
    expect(() => coreNeuronsAtTau(circuit, 3)).toThrow(/larger than the circuit's τ = 2/);
  });

  test("the model and images must be the circuit's", async () => {
    await expect(
      loadEvaluationData({ ...circuit, model: { ...circuit.model, name: "other" } }, join(dir, "manifest.json"), {
        names: circuit.images,
        pixels: new Float32Array(N * S * S * 3),
        size: S,
      }),
    ).rejects.toThrow(/not the circuit's: its name is "linear3"/);
    await expect(
      loadEvaluationData(circuit, join(dir, "manifest.json"), {
        names: ["x.png"],
        pixels: new Float32Array(S * S * 3),
        size: S,
      }),
    ).rejects.toThrow(/not the circuit's images/);
  });
});

describe("knockouts reuse one forward pass of the linear layers", () => {
  test("on an ONNX ResNet block and a TF.js layers one, equal to running the slice in full", async () => {
    await initBackend();
    for (const manifest of ["tests/fixtures/toyworld-a/manifest.json", "models/toyworld/manifest.json"]) {
      const model = await loadModel(manifest);
      const dirImages = "tests/fixtures/toyworld-a/images/bee";
      const loaded = await loadClassImages((await listImages(dirImages)).slice(0, 3), 64);
      const images = tf.tidy(() => model.preprocess(tf.tensor4d(loaded.pixels, [3, 64, 64, 3])));
      const patches = patchGrid(3, 64, [1, 0.5], 0.5);
      for (const [lower, upper] of [
        ["layer4.0", "layer4.1"],
        ["layer3.1", "layer4.0"],
      ] as const) {
        const fast = knockoutSlice(model, images, patches, lower, upper, 16);
        const plain = knockoutSlice(model, images, patches, lower, upper, 16, { reuseLinear: false });
        expect(fast.linear.length).toBeGreaterThanOrEqual(1); // the block's first convolution (and a downsampling one)
        expect(plain.linear).toHaveLength(0);
        // targets in turn (the fast slice keeps the current target's channel of a residual input),
        // sets with and without the target's own channel
        for (const target of [5, 2, 5]) {
          for (const set of [
            [],
            [3],
            [target],
            [0, 7, 9, 30, 31],
            Array.from({ length: 20 }, (_, i) => i * 3),
            Array.from({ length: 40 }, (_, i) => i),
          ]) {
            const a = await knockoutActivations(fast, target, set);
            const b = await knockoutActivations(plain, target, set);
            let worst = 0;
            for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
            expect(worst, `${manifest} ${lower}→${upper} target ${target} |S| = ${set.length}`).toBeLessThan(1e-4);
          }
        }
        disposeSlice(fast);
        disposeSlice(plain);
      }
      images.dispose();
      model.dispose();
    }
  }, 120_000);
});

describe("statistics and sampling", () => {
  test("Student t quantiles match tables", () => {
    expect(studentTQuantile(0.995, 10)).toBeCloseTo(3.1693, 3);
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(studentTQuantile(0.995, 499)).toBeCloseTo(2.5857, 3);
    expect(studentTQuantile(0.025, 5)).toBeCloseTo(-2.5706, 3);
  });

  test("a 99% interval of a mean, by hand", () => {
    const xs = [1, 2, 3, 4, 5];
    const r = meanInterval(xs, 0.99);
    // sd = sqrt(2.5), t(0.995, 4) = 4.6041
    expect(r.mean).toBe(3);
    expect(r.halfWidth).toBeCloseTo((4.6041 * Math.sqrt(2.5)) / Math.sqrt(5), 3);
    expect(meanInterval([2], 0.99).halfWidth).toBe(0);
  });

  test("Pearson correlation, by hand, and 0 for a constant series", () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 1, 2])).toBeCloseTo(-0.5, 12);
    expect(pearson([1, 1, 1], [3, 1, 2])).toBe(0);
  });

  test("seeded sets: distinct, in range, reproducible, and uniform", () => {
    const a = sampleWithoutReplacement(10, 4, seededRandom(1));
    expect(new Set(a).size).toBe(4);
    expect(a.every((x) => x >= 0 && x < 10)).toBe(true);
    expect(sampleWithoutReplacement(10, 4, seededRandom(1))).toEqual(a);
    const counts = new Array(5).fill(0);
    const rand = seededRandom(9);
    for (let i = 0; i < 5000; i++) sampleWithoutReplacement(5, 2, rand).forEach((x) => counts[x]++);
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(150);
    expect(() => sampleWithoutReplacement(3, 4, rand)).toThrow(/cannot draw 4 distinct neurons out of 3/);
  });
});
