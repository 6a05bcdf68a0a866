/**
 * The affine prefix of a slice: which tensors end it, and integrated gradients started from them
 * equal integrated gradients over the whole slice, on both importers and many architectures.
 */
import { readdirSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow/backend";
import { integratedGradients } from "~/server/neurflow/integratedGradients";
import { affineFrontier, type AffineStep } from "~/server/neurflow/model/affinePrefix";
import type { TensorGraph } from "~/server/neurflow/model/graph";
import { layersModelToGraph } from "~/server/neurflow/model/layers/importLayers";
import { loadClassImages } from "~/server/neurflow/images";
import { loadModel } from "~/server/neurflow/model/loadModel";
import { importOnnx } from "~/server/neurflow/model/onnx/importOnnx";
import { quadratureRule } from "~/server/neurflow/quadrature";
import { tf } from "~/server/neurflow/tf";

const isWeight = (n: string) => n.startsWith("w");

describe("the frontier of the affine prefix", () => {
  it("ends a BasicBlock's prefix at its first batch norm and the residual input", () => {
    const steps: AffineStep[] = [
      { inputs: ["x", "w1"], outputs: ["c1"], affine: "first" },
      { inputs: ["c1", "wbn1"], outputs: ["b1"], affine: "first" },
      { inputs: ["b1"], outputs: ["r1"] },
      { inputs: ["r1", "w2"], outputs: ["c2"], affine: "first" },
      { inputs: ["c2", "x"], outputs: ["s"], affine: "joint" },
      { inputs: ["s"], outputs: ["y"] },
    ];
    expect(affineFrontier(steps, "x", "y", isWeight)?.sort()).toEqual(["b1", "x"]);
  });

  it("includes a downsample path, and the output when the whole slice is affine", () => {
    const block: AffineStep[] = [
      { inputs: ["x", "w1"], outputs: ["c1"], affine: "first" },
      { inputs: ["c1"], outputs: ["r1"] },
      { inputs: ["x", "wd"], outputs: ["d"], affine: "first" },
      { inputs: ["r1", "d"], outputs: ["y"], affine: "joint" },
    ];
    expect(affineFrontier(block, "x", "y", isWeight)?.sort()).toEqual(["c1", "d"]);
    const head: AffineStep[] = [
      { inputs: ["x"], outputs: ["p"], affine: "first" },
      { inputs: ["p", "wshape"], outputs: ["f"], affine: "first" },
      { inputs: ["f", "wfc", "wb"], outputs: ["logits"], affine: "one" },
    ];
    expect(affineFrontier(head, "x", "logits", isWeight)).toEqual(["logits"]);
  });

  it("is null when nothing past the fed tensor is affine", () => {
    const steps: AffineStep[] = [
      { inputs: ["x"], outputs: ["r"] },
      { inputs: ["r", "w"], outputs: ["y"], affine: "first" },
    ];
    expect(affineFrontier(steps, "x", "y", isWeight)).toBeNull();
  });

  it("does not treat a product of two activations, or weights computed from x, as affine", () => {
    const square: AffineStep[] = [
      { inputs: ["x", "w"], outputs: ["a"], affine: "first" },
      { inputs: ["a", "a"], outputs: ["sq"], affine: "one" },
      { inputs: ["sq"], outputs: ["y"] },
    ];
    expect(affineFrontier(square, "x", "y", isWeight)).toEqual(["a"]);
    const dynamicWeights: AffineStep[] = [
      { inputs: ["w", "x"], outputs: ["c"], affine: "first" },
      { inputs: ["c"], outputs: ["y"] },
    ];
    expect(affineFrontier(dynamicWeights, "x", "y", isWeight)).toBeNull();
  });
});

/** The same graph without its affine frontier: integrated gradients runs the whole slice at every step. */
function withoutPrefix(g: TensorGraph): TensorGraph {
  const plain = Object.create(g) as TensorGraph & { affineFrontier?: unknown };
  plain.affineFrontier = undefined;
  return plain;
}

/** The upper channel most active on `x` (a live target, whatever the weights). */
function strongestChannel(g: TensorGraph, lower: string, upper: string, x: tf.Tensor): number {
  return tf.tidy(() => {
    const out = g.run({ [lower]: x }, [upper])[0]!;
    const means = out.rank === 4 ? out.mean([0, 1, 2]) : out.mean(0);
    return means.argMax().dataSync()[0]!;
  });
}

/** IG of `target` with and without the prefix: the relative L2 difference of the attributions. */
async function compare(graph: TensorGraph, lower: string, upper: string, x: tf.Tensor, target: number) {
  const rule = quadratureRule("gausslegendre", 8);
  const a = await integratedGradients({ graph, lowerTensor: lower, upperTensor: upper }, target, x, rule);
  const b = await integratedGradients(
    { graph: withoutPrefix(graph), lowerTensor: lower, upperTensor: upper },
    target,
    x,
    rule,
  );
  let num = 0;
  let den = 0;
  b.perPatch.forEach((v, i) => {
    num += (a.perPatch[i]! - v) ** 2;
    den += v * v;
  });
  const totals = Array.from(b.totals, (t, i) => Math.abs(a.totals[i]! - t) / Math.max(Math.abs(t), 1e-3));
  return { rel: Math.sqrt(num / Math.max(den, 1e-30)), totals: Math.max(...totals), den };
}

describe("integrated gradients from the affine frontier", () => {
  beforeAll(async () => {
    await initBackend();
  });

  for (const [label, manifest] of [
    ["the ONNX toy network", "tests/fixtures/toyworld-a/manifest.json"],
    ["the TF.js layers toy model", "models/toyworld/manifest.json"],
  ] as const) {
    it(`equals the whole slice on every layer pair of ${label}`, async () => {
      const model = await loadModel(manifest);
      const names = [
        "stem",
        "layer1.0",
        "layer1.1",
        "layer2.0",
        "layer2.1",
        "layer3.0",
        "layer3.1",
        "layer4.0",
        "layer4.1",
        "fc",
      ];
      const imgs = await loadClassImages(
        ["000.png", "001.png", "002.png"].map((f) => `tests/fixtures/toyworld-a/images/bee/${f}`),
        64,
      );
      const images = tf.tensor4d(imgs.pixels, [3, 64, 64, 3]);
      const input = model.preprocess(images);
      let withPrefix = 0;
      for (let i = 0; i + 1 < names.length; i++) {
        const lower = model.layerTensor(names[i]!);
        const upper = model.layerTensor(names[i + 1]!);
        if (model.graph.affineFrontier!(lower, upper)) withPrefix++;
        const x = model.graph.run({ [model.inputTensor]: input }, [lower])[0]!;
        const r = await compare(model.graph, lower, upper, x, strongestChannel(model.graph, lower, upper, x));
        expect(r.den).toBeGreaterThan(0);
        expect(r.rel, `${names[i + 1]}`).toBeLessThan(1e-4);
        expect(r.totals, `${names[i + 1]}`).toBeLessThan(1e-4);
        x.dispose();
      }
      // every block starts with a convolution, and the head is a pooling and a dense layer
      expect(withPrefix).toBe(names.length - 1);
      tf.dispose([images, input]);
      model.dispose();
    });
  }

  it("equals the whole slice on torchvision-style ONNX models (residual, inverted, shuffle, inception, squeeze-excite)", async () => {
    const files = readdirSync("tests/fixtures/models").filter((f) => f.endsWith(".onnx") && !f.startsWith("bad_"));
    let compared = 0;
    let prefixed = 0;
    for (const f of files) {
      const g = importOnnx(new Uint8Array(readFileSync(`tests/fixtures/models/${f}`)));
      const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 5);
      // from the input to a few of the last activations: prefixes of stems and whole networks
      const outs = g.nodes
        .filter((n) => ["Relu", "Add", "Clip", "Mul", "Concat"].includes(n.op))
        .slice(-2)
        .map((n) => n.outputs[0]!);
      for (const out of outs) {
        let shape: number[];
        try {
          shape = tf.tidy(() => g.run({ [g.inputName]: x }, [out])[0]!.shape);
        } catch {
          continue; // a tensor the slice cannot reach from the input alone
        }
        if (shape.length !== 4 && shape.length !== 2) continue;
        if (g.affineFrontier!(g.inputName, out)) prefixed++;
        const r = await compare(g, g.inputName, out, x, strongestChannel(g, g.inputName, out, x));
        expect(r.rel, `${f} ${out}`).toBeLessThan(1e-3);
        compared++;
      }
      x.dispose();
      g.dispose();
    }
    expect(compared).toBeGreaterThan(15);
    expect(prefixed).toBe(compared);
  });

  it("equals the whole slice through a bottleneck block of a TF.js layers model, and through a dense head", async () => {
    const input = tf.input({ shape: [6, 6, 16] });
    const conv = (x: tf.SymbolicTensor, filters: number, k: number, seed: number) =>
      tf.layers
        .batchNormalization({
          betaInitializer: tf.initializers.randomNormal({ seed }),
          movingMeanInitializer: tf.initializers.randomNormal({ seed: seed + 1 }),
        })
        .apply(
          tf.layers
            .conv2d({
              filters,
              kernelSize: k,
              padding: "same",
              useBias: false,
              kernelInitializer: tf.initializers.heNormal({ seed }),
            })
            .apply(x),
        ) as tf.SymbolicTensor;
    let h = tf.layers.reLU().apply(conv(input, 4, 1, 1)) as tf.SymbolicTensor;
    h = tf.layers.reLU().apply(conv(h, 4, 3, 2)) as tf.SymbolicTensor;
    h = conv(h, 16, 1, 3);
    const block = tf.layers.reLU({ name: "block" }).apply(tf.layers.add().apply([h, input])) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(block) as tf.SymbolicTensor;
    const logits = tf.layers
      .dense({ units: 5, name: "logits", kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) })
      .apply(pooled) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: logits });
    const g = layersModelToGraph(model);
    const x = tf.randomUniform([3, 6, 6, 16], 0, 2, "float32", 9);
    const inputName = g.inputName;
    const frontier = g.affineFrontier!(inputName, "block");
    expect(frontier).toHaveLength(2);
    expect(frontier).toContain(inputName);
    expect(g.affineFrontier!("block", "logits")).toEqual(["logits"]);
    // the residual input is read only at the target channel (by the Add): one channel is fed
    const feeds = Object.fromEntries(
      frontier!.map((n) => [n, tf.zeros([1, ...g.run({ [inputName]: x }, [n])[0]!.shape.slice(1)])]),
    );
    expect(g.oneChannelFeeds!(feeds, "block")).toEqual([inputName]);
    expect(g.oneChannelFeeds!({ block: tf.zeros([1, 6, 6, 16]) }, "logits")).toEqual([]);
    for (const target of [0, 7, 15]) {
      const r = await compare(g, inputName, "block", x, target);
      expect(r.den).toBeGreaterThan(0);
      expect(r.rel).toBeLessThan(1e-4);
    }
    const b = g.run({ [inputName]: x }, ["block"])[0]!;
    const head = await compare(g, "block", "logits", b, 2);
    expect(head.rel).toBeLessThan(1e-5);
    tf.dispose([x, b]);
    g.dispose();
  });
});
