/** Outputs of every fixture model vs onnxruntime (the oracle). */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend } from "../../server/neurflow/backend";
import { importOnnx } from "../../server/neurflow/model/onnx/importOnnx";
import { tf } from "../../server/neurflow/tf";
import { MODELS, maxAbs, maxAbsDiff, modelPath, randomTensor, runOrt, toNchw } from "./onnxTestUtils";

describe("ONNX fixtures match onnxruntime", () => {
  beforeAll(async () => {
    await initBackend();
  });

  for (const m of MODELS) {
    test(m.file, async () => {
      const bytes = readFileSync(modelPath(m.file));
      const graph = importOnnx(bytes);
      for (const op of m.ops) {
        // ops may be folded away; those listed here stay
        expect(
          graph.nodes.some((n) => n.op === op),
          `${m.file} runs a ${op} node`,
        ).toBe(true);
      }
      const x = randomTensor([2, m.size, m.size, 3], 7, -2, 2);
      const outs = graph.run({ [graph.inputName]: x }, graph.outputNames);
      const ref = await runOrt(bytes, graph.inputName, toNchw(x));
      graph.outputNames.forEach((name, i) => {
        const ours = toNchw(outs[i]!);
        const r = ref[name]!;
        expect(ours.dims).toEqual(r.dims);
        const diff = maxAbsDiff(ours.data, r.data);
        expect(diff, `${m.file}:${name} max diff ${diff}`).toBeLessThan(2e-5 * Math.max(1, maxAbs(r.data)));
      });
      tf.dispose([x, ...outs]);
      graph.dispose();
    });
  }

  test("batch size is free (shape subgraphs are evaluated per run)", async () => {
    const bytes = readFileSync(modelPath("vgg_like"));
    const graph = importOnnx(bytes);
    for (const n of [1, 3]) {
      const x = randomTensor([n, 32, 32, 3], 11);
      const [y] = graph.run({ input: x }, ["logits"]);
      const ref = await runOrt(bytes, "input", toNchw(x));
      expect(y!.shape).toEqual([n, 10]);
      expect(maxAbsDiff(y!.dataSync(), ref.logits!.data)).toBeLessThan(1e-4);
      tf.dispose([x, y!]);
    }
    graph.dispose();
  });

  test("the model's tensors are freed: no leak per run, weights freed by dispose", () => {
    const before = tf.memory().numTensors;
    const graph = importOnnx(readFileSync(modelPath("inception")));
    const afterLoad = tf.memory().numTensors;
    expect(afterLoad).toBeGreaterThan(before);
    const x = randomTensor([1, 32, 32, 3], 1);
    tf.dispose(graph.run({ input: x }, ["logits"]));
    const afterOne = tf.memory().numTensors;
    tf.dispose(graph.run({ input: x }, ["logits"]));
    expect(tf.memory().numTensors).toBe(afterOne);
    x.dispose();
    graph.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test("convolution gradient kernels are made by the first gradient only, and freed by dispose", () => {
    const before = tf.memory();
    const graph = importOnnx(readFileSync(modelPath("resnet_blocks")));
    const weightBytes = tf.memory().numBytes - before.numBytes;
    const x = randomTensor([1, 32, 32, 3], 2);
    // a forward pass does not make them (a model whose gradients run on onnxruntime never holds them)
    tf.dispose(graph.run({ input: x }, ["logits"]));
    const forward = tf.memory();
    const gradient = () =>
      tf.tidy(() => tf.grad((v: tf.Tensor) => graph.run({ input: v as tf.Tensor4D }, ["logits"])[0]!.sum())(x));
    const g1 = gradient();
    // the flipped kernels of the model's convolutions: most of its weights again
    expect(tf.memory().numBytes - forward.numBytes).toBeGreaterThan(0.5 * weightBytes);
    const withKernels = tf.memory().numTensors;
    const g2 = gradient();
    // made once, then reused: the second gradient adds only its result, and both agree
    expect(tf.memory().numTensors).toBe(withKernels + 1);
    expect(maxAbsDiff(g1.dataSync(), g2.dataSync())).toBe(0);
    expect(maxAbs(g1.dataSync())).toBeGreaterThan(0);
    tf.dispose([g1, g2, x]);
    graph.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });
});
