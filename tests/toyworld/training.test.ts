import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow";
import { parseManifest } from "~/server/neurflow/light";
import { tf } from "~/server/neurflow";
import { predictLogits } from "~/server/toyworld/data";
import { buildResNet, resnetLayerNames } from "~/server/toyworld/model";
import { loadLayersModel } from "~/server/toyworld/modelFiles";
import { drawScene } from "~/server/toyworld/scenes";
import { learningRateAt, train } from "~/server/toyworld/train";
import { registerWasmTrainingKernels } from "~/server/toyworld/wasmKernels";

const dirs: string[] = [];
beforeAll(async () => {
  await initBackend("wasm");
  registerWasmTrainingKernels();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("convolution gradients on wasm", () => {
  it("match the plain JavaScript kernels", async () => {
    const cases: [number, "same" | "valid", number, number][] = [
      [1, "same", 3, 10],
      [2, "same", 3, 10],
      [2, "same", 1, 10],
      [2, "valid", 3, 11],
      [2, "same", 3, 9],
      [1, "valid", 3, 8],
    ];
    for (const [stride, pad, k, h] of cases) {
      const x = await tf.randomNormal([2, h, h + 2, 3], 0, 1, "float32", 1).array();
      const w = await tf.randomNormal([k, k, 3, 4], 0, 1, "float32", 2).array();
      const grads = async () =>
        tf.tidy(() => {
          const f = (a: tf.Tensor, b: tf.Tensor) =>
            tf
              .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad)
              .square()
              .sum();
          const [gx, gw] = tf.grads(f)([tf.tensor(x), tf.tensor(w)]);
          return [gx!.dataSync(), gw!.dataSync()];
        });
      const [wx, ww] = await grads();
      await tf.setBackend("cpu");
      const [cx, cw] = await grads();
      await tf.setBackend("wasm");
      const scale = Math.max(...Array.from(cw!, Math.abs), ...Array.from(cx!, Math.abs));
      for (let i = 0; i < cx!.length; i++) expect(Math.abs(wx![i]! - cx![i]!)).toBeLessThan(1e-5 * scale + 1e-4);
      for (let i = 0; i < cw!.length; i++) expect(Math.abs(ww![i]! - cw![i]!)).toBeLessThan(1e-5 * scale + 1e-4);
    }
  });
});

describe("the demo model", () => {
  it("names its layers like the PyTorch modules", () => {
    const m = buildResNet({ classes: 6, inputSize: 64, widths: [4, 4, 8, 8], seed: 3 });
    const names = new Set(m.layers.map((l) => l.name));
    for (const n of resnetLayerNames()) expect(names).toContain(n);
    expect(m.getLayer("layer3.1").outputShape).toEqual([null, 8, 8, 8]);
    expect(m.getLayer("fc").outputShape).toEqual([null, 6]);
    m.dispose();
  });

  it("initialises the same weights from the same seed", () => {
    const a = buildResNet({ classes: 6, inputSize: 64, widths: [4, 4, 8, 8], seed: 3 });
    const b = buildResNet({ classes: 6, inputSize: 64, widths: [4, 4, 8, 8], seed: 3 });
    const wa = a.getWeights().map((t) => Array.from(t.dataSync()));
    const wb = b.getWeights().map((t) => Array.from(t.dataSync()));
    expect(wa).toEqual(wb);
    a.dispose();
    b.dispose();
  });

  it("learning rate warms up then decays to zero", () => {
    expect(learningRateAt(0, 100, 1)).toBeCloseTo(0.1);
    expect(learningRateAt(9, 100, 1)).toBeCloseTo(1);
    expect(learningRateAt(99, 100, 1)).toBeLessThan(0.01);
  });

  it("trains a tiny model, saves it with a valid manifest and loads it back", async () => {
    const out = mkdtempSync(join(tmpdir(), "toyworld-model-"));
    dirs.push(out);
    const r = await train({
      out,
      name: "tiny",
      seed: 4,
      world: { cueRate: 0.8, cueRateElsewhere: 0.05 },
      epochs: 1,
      perClass: 4,
      valPerClass: 2,
      batchSize: 8,
      learningRate: 3e-3,
      widths: [4, 4, 8, 8],
      quiet: true,
    });
    expect(r.epochs).toHaveLength(1);
    expect(Number.isFinite(r.epochs[0]!.loss)).toBe(true);
    const manifest = parseManifest(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")));
    expect(manifest.format).toBe("tfjs-layers");
    expect(manifest.input).toMatchObject({ size: 64, layout: "NHWC", scale: 255 });
    expect(manifest.layers.map((l) => l.name)).toEqual(resnetLayerNames());
    const training = JSON.parse(readFileSync(join(out, "training.json"), "utf8")) as {
      seed: number;
      trainingSeconds: number;
    };
    expect(training.seed).toBe(4);
    expect(statSync(join(out, "weights.bin")).size).toBe(r.weightBytes);
    const model = await loadLayersModel(out);
    const scenes = [drawScene("bee", 1), drawScene("car", 2)];
    const logits = predictLogits(model, scenes);
    expect(logits).toHaveLength(2);
    expect(logits[0]).toHaveLength(6);
    for (const n of resnetLayerNames()) expect(() => model.getLayer(n)).not.toThrow();
    model.dispose();
  }, 60_000);

  it("trains to the same weights from the same seed", async () => {
    const run = async () => {
      const out = mkdtempSync(join(tmpdir(), "toyworld-model-"));
      dirs.push(out);
      await train({
        out,
        name: "tiny",
        seed: 9,
        world: { cueRate: 0.8, cueRateElsewhere: 0.05 },
        epochs: 1,
        perClass: 4,
        valPerClass: 1,
        batchSize: 8,
        learningRate: 3e-3,
        widths: [4, 4, 4, 4],
        quiet: true,
      });
      return readFileSync(join(out, "weights.bin"));
    };
    const a = await run();
    const b = await run();
    expect(a.equals(b)).toBe(true);
  }, 60_000);
});
