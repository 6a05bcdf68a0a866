/** A TF.js layers model saved with the file IO handler, loaded back as a TensorGraph, and sliced. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend } from "../../server/neurflow/backend";
import type { TensorGraph } from "../../server/neurflow/model/graph";
import { fileIOHandler } from "../../server/neurflow/model/layers/fileIO";
import { importLayers, layersModelToGraph } from "../../server/neurflow/model/layers/importLayers";
import { loadModel } from "../../server/neurflow/model/loadModel";
import { tf } from "../../server/neurflow/tf";
import { maxAbsDiff, randomTensor } from "./onnxTestUtils";

/** A small functional ResNet-like model: conv stem, a residual block with Add, pooling, dense logits. */
function buildModel(): tf.LayersModel {
  const input = tf.input({ shape: [16, 16, 3], name: "image" });
  const stem = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, padding: "same", activation: "relu", name: "stem" })
    .apply(input) as tf.SymbolicTensor;
  const c1 = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, padding: "same", name: "block_conv1" })
    .apply(stem) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: "block_bn" }).apply(c1) as tf.SymbolicTensor;
  const r1 = tf.layers.activation({ activation: "relu", name: "block_relu" }).apply(bn) as tf.SymbolicTensor;
  const c2 = tf.layers
    .depthwiseConv2d({ kernelSize: 3, padding: "same", name: "block_dw" })
    .apply(r1) as tf.SymbolicTensor;
  const add = tf.layers.add({ name: "block_add" }).apply([c2, stem]) as tf.SymbolicTensor;
  const out = tf.layers.activation({ activation: "relu", name: "block_out" }).apply(add) as tf.SymbolicTensor;
  const pool = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(out) as tf.SymbolicTensor;
  const drop = tf.layers.dropout({ rate: 0.5, name: "drop" }).apply(pool) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 4, name: "logits" }).apply(drop) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: "tiny_resnet" });
}

describe("TF.js layers models", () => {
  let dir: string;
  let original: tf.LayersModel;
  let graph: TensorGraph;
  let x: tf.Tensor;
  beforeAll(async () => {
    await initBackend();
    dir = mkdtempSync(join(tmpdir(), "nf-layers-"));
    original = buildModel();
    await original.save(fileIOHandler(join(dir, "model.json")));
    graph = await importLayers(join(dir, "model.json"));
    x = randomTensor([2, 16, 16, 3], 9);
  });
  afterAll(() => {
    graph?.dispose();
    original?.dispose();
    x?.dispose();
  });

  test("tensor names are layer names, in topological order", () => {
    expect(graph.inputName).toBe("image");
    expect(graph.outputNames).toEqual(["logits"]);
    expect(graph.nodes.map((n) => n.name)).toEqual([
      "stem",
      "block_conv1",
      "block_bn",
      "block_relu",
      "block_dw",
      "block_add",
      "block_out",
      "pool",
      "drop",
      "logits",
    ]);
    expect(graph.nodes.find((n) => n.name === "block_add")!.inputs).toEqual(["block_dw", "stem"]);
    expect(graph.hasTensor("block_out")).toBe(true);
  });

  test("outputs equal the original model's", () => {
    const [y] = graph.run({ image: x }, ["logits"]);
    const ref = original.predict(x) as tf.Tensor;
    expect(maxAbsDiff(y!.dataSync(), ref.dataSync())).toBeLessThan(1e-5);
    tf.dispose([y!, ref]);
  });

  test("slices compose: input → stem, stem → block_out (across the Add), block_out → logits", () => {
    const [stem, out, logits] = graph.run({ image: x }, ["stem", "block_out", "logits"]);
    const [out2, logits2] = graph.run({ stem: stem! }, ["block_out", "logits"]);
    expect(maxAbsDiff(out2!.dataSync(), out!.dataSync())).toBeLessThan(1e-5);
    expect(maxAbsDiff(logits2!.dataSync(), logits!.dataSync())).toBeLessThan(1e-5);
    const [logits3] = graph.run({ block_out: out! }, ["logits"]);
    expect(maxAbsDiff(logits3!.dataSync(), logits!.dataSync())).toBeLessThan(1e-5);
    expect(() => graph.run({ block_relu: out! }, ["block_out"])).toThrow(/it needs tensor "(stem|image)"/);
    tf.dispose([stem!, out!, logits!, out2!, logits2!, logits3!]);
  });

  test("gradients through a slice match finite differences", () => {
    const [h] = graph.run({ image: x }, ["stem"]);
    const w = randomTensor([2, 4], 2);
    const d = randomTensor(h!.shape, 3);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(graph.run({ stem: t }, ["logits"])[0]!, w)) as tf.Scalar;
    const g = tf.grad(f)(h!);
    const analytic = tf.sum(tf.mul(g, d)).dataSync()[0]!;
    const eps = 1e-3;
    const numeric =
      (f(tf.add(h!, tf.mul(d, eps))).dataSync()[0]! - f(tf.sub(h!, tf.mul(d, eps))).dataSync()[0]!) / (2 * eps);
    expect(Math.abs(numeric - analytic)).toBeLessThan(2e-2 * Math.max(1, Math.abs(analytic)));
    tf.dispose([h!, w, d, g]);
  });

  test("one channel: runChannel computes only it (dense convolutions, batch norm) and equals the full output, gradients too", () => {
    // a BasicBlock: conv → BN → ReLU → conv → BN, + the block input, ReLU
    const input = tf.input({ shape: [8, 8, 6], name: "in" });
    const c1 = tf.layers
      .conv2d({ filters: 6, kernelSize: 3, padding: "same", useBias: false, name: "b_conv1" })
      .apply(input) as tf.SymbolicTensor;
    const bn1 = tf.layers.batchNormalization({ name: "b_bn1", epsilon: 1e-5 }).apply(c1) as tf.SymbolicTensor;
    const r1 = tf.layers.reLU({ name: "b_relu" }).apply(bn1) as tf.SymbolicTensor;
    const c2 = tf.layers
      .conv2d({ filters: 6, kernelSize: 3, padding: "same", name: "b_conv2" })
      .apply(r1) as tf.SymbolicTensor;
    const bn2 = tf.layers.batchNormalization({ name: "b_bn2" }).apply(c2) as tf.SymbolicTensor;
    const add = tf.layers.add({ name: "b_add" }).apply([bn2, input]) as tf.SymbolicTensor;
    const out = tf.layers.activation({ activation: "relu", name: "b_out" }).apply(add) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: out, name: "block" });
    // non-trivial batch-norm statistics
    for (const name of ["b_bn1", "b_bn2"]) {
      const layer = m.getLayer(name);
      layer.setWeights(
        layer.getWeights().map((w, i) => tf.add(tf.mul(randomTensor(w.shape, 20 + i), 0.3), i === 3 ? 1 : 0)),
      );
    }
    const g = layersModelToGraph(m);
    const xin = randomTensor([3, 8, 8, 6], 11);
    const full = g.run({ in: xin }, ["b_out"])[0]!;
    for (let c = 0; c < 6; c++) {
      const one = g.runChannel({ in: xin }, "b_out", c);
      expect(one.shape).toEqual([3, 8, 8, 1]);
      expect(maxAbsDiff(one.dataSync(), tf.slice(full, [0, 0, 0, c], [-1, -1, -1, 1]).dataSync())).toBeLessThan(1e-5);
      const ga = tf.grad((t: tf.Tensor) => tf.sum(g.runChannel({ in: t }, "b_out", c)) as tf.Scalar)(xin);
      const gb = tf.grad(
        (t: tf.Tensor) => tf.sum(tf.slice(g.run({ in: t }, ["b_out"])[0]!, [0, 0, 0, c], [-1, -1, -1, 1])) as tf.Scalar,
      )(xin);
      expect(maxAbsDiff(ga.dataSync(), gb.dataSync())).toBeLessThan(1e-4);
      tf.dispose([one, ga, gb]);
    }
    // the block's first convolution reads its input linearly: its output with channels S zeroed is
    // the full output minus the contribution of S alone
    const [lin] = g.linearConsumers!("in");
    expect(lin!.output).toBe("b_conv1");
    const S = [1, 4];
    const keep = tf.tensor1d([1, 0, 1, 1, 0, 1]);
    const direct = g.run({ in: tf.mul(xin, keep) }, ["b_conv1"])[0]!;
    const base = g.run({ in: xin }, ["b_conv1"])[0]!;
    const viaPartial = tf.sub(base, lin!.partial(tf.gather(xin, S, 3), S));
    expect(maxAbsDiff(viaPartial.dataSync(), direct.dataSync())).toBeLessThan(1e-5);
    // the second convolution reads an activation, not the input: not a linear consumer of "in"
    expect(g.linearConsumers!("b_relu").map((l) => l.output)).toEqual(["b_conv2"]);
    tf.dispose([xin, full, keep, direct, base, viaPartial]);
    g.dispose();
  });

  test("loadModel reads a tfjs-layers manifest", async () => {
    writeFileSync(
      join(dir, "manifest.json"),
      JSON.stringify({
        name: "tiny",
        format: "tfjs-layers",
        file: "model.json",
        input: { size: 16, scale: 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
        classes: ["a", "b", "c", "d"],
        layers: [
          { name: "stem", tensor: "stem" },
          { name: "block", tensor: "block_out" },
          { name: "fc", tensor: "logits" },
        ],
      }),
    );
    const model = await loadModel(join(dir, "manifest.json"));
    expect(model.inputTensor).toBe("image");
    expect(model.logitsTensor).toBe("logits");
    expect(model.layerTensor("block")).toBe("block_out");
    const px = tf.fill([1, 16, 16, 3], 255) as tf.Tensor4D;
    const pre = model.preprocess(px);
    expect(Array.from(pre.dataSync().slice(0, 3))).toEqual([2, 2, 2]);
    tf.dispose([px, pre]);
    model.dispose();
  });

  test("a missing weight file is a clear error", async () => {
    const other = mkdtempSync(join(tmpdir(), "nf-layers-bad-"));
    writeFileSync(
      join(other, "model.json"),
      JSON.stringify({
        modelTopology: { class_name: "Model" },
        weightsManifest: [{ paths: ["gone.bin"], weights: [] }],
      }),
    );
    await expect(importLayers(join(other, "model.json"))).rejects.toThrow(/cannot read weight file "gone.bin"/);
  });
});
