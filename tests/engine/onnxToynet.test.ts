import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend } from "../../server/neurflow/backend";
import { loadModel, type ClassifierModel } from "../../server/neurflow/model/loadModel";
import { tf } from "../../server/neurflow/tf";
import { FIXTURES, maxAbs, maxAbsDiff, readImages, runOrt, toNchw } from "./onnxTestUtils";

const DIR = join(FIXTURES, "toyworld-a");

describe("toynet.onnx through loadModel", () => {
  let model: ClassifierModel;
  beforeAll(async () => {
    await initBackend();
    model = await loadModel(join(DIR, "manifest.json"));
  });
  afterAll(() => model?.dispose());

  test("exposes the manifest's input, logits and layers", () => {
    expect(model.inputTensor).toBe("input");
    expect(model.logitsTensor).toBe("logits");
    expect(model.layerTensor("layer3.1")).toBe("/layer3/layer3.1/relu_1/Relu_output_0");
    expect(model.layerTensor("fc")).toBe("logits");
    expect(() => model.layerTensor("nope")).toThrow(/no layer "nope"/);
    expect(model.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  test("logits match onnxruntime on the fixture images", async () => {
    const files: string[] = [];
    for (const cls of readdirSync(join(DIR, "images")).sort()) {
      files.push(join(DIR, "images", cls, "000.png"), join(DIR, "images", cls, "007.png"));
    }
    const raw = await readImages(files);
    const x = model.preprocess(raw);
    raw.dispose();
    const [logits] = model.graph.run({ [model.inputTensor]: x }, [model.logitsTensor]);
    const ours = logits!.dataSync();
    const ref = await runOrt(join(DIR, "toynet.onnx"), "input", toNchw(x));
    expect(ref.logits!.dims).toEqual([files.length, 6]);
    const diff = maxAbsDiff(ours, ref.logits!.data);
    expect(diff).toBeLessThan(1e-4 * Math.max(1, maxAbs(ref.logits!.data)));
    // the classifier gets its own classes right
    const pred = Array.from(tf.argMax(logits!, 1).dataSync() as Int32Array);
    const classes = readdirSync(join(DIR, "images")).sort();
    const expected = classes.flatMap((c) => [model.manifest.classes.indexOf(c), model.manifest.classes.indexOf(c)]);
    expect(pred).toEqual(expected);
    x.dispose();
    logits!.dispose();
  });

  test("layer slices compose to the full forward pass", () => {
    const x = tf.randomNormal([2, 64, 64, 3]);
    const a = model.layerTensor("layer2.1");
    const b = model.layerTensor("layer4.1");
    const [fa, fb, fl] = model.graph.run({ [model.inputTensor]: x }, [a, b, model.logitsTensor]);
    expect(fa!.shape).toEqual([2, 16, 16, 32]);
    const [sb, sl] = model.graph.run({ [a]: fa! }, [b, model.logitsTensor]);
    expect(maxAbsDiff(sb!.dataSync(), fb!.dataSync())).toBeLessThan(1e-4);
    expect(maxAbsDiff(sl!.dataSync(), fl!.dataSync())).toBeLessThan(1e-4);
    tf.dispose([x, fa!, fb!, fl!, sb!, sl!]);
  });

  test("gradient of a logit w.r.t. an intermediate layer matches finite differences", () => {
    const lower = model.layerTensor("layer3.1");
    const x = tf.randomNormal([1, 64, 64, 3], 0, 1, "float32", 3);
    const [h] = model.graph.run({ [model.inputTensor]: x }, [lower]);
    const f = (t: tf.Tensor) =>
      tf.sum(tf.slice(model.graph.run({ [lower]: t }, [model.logitsTensor])[0]!, [0, 0], [1, 1]));
    const g = tf.grad(f)(h!);
    const dir = tf.randomNormal(h!.shape, 0, 1, "float32", 4);
    const eps = 1e-2;
    const fp = f(tf.add(h!, tf.mul(dir, eps))).dataSync()[0]!;
    const fm = f(tf.sub(h!, tf.mul(dir, eps))).dataSync()[0]!;
    const numeric = (fp - fm) / (2 * eps);
    const analytic = tf.sum(tf.mul(g, dir)).dataSync()[0]!;
    expect(Math.abs(numeric - analytic)).toBeLessThan(1e-2 * Math.max(1, Math.abs(analytic)));
    tf.dispose([x, h!, g, dir]);
  });
});
