/** One channel of a slice, computing only what it needs: equal to the full slice, gradients too. */
import { readdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow/backend";
import { loadModel, type ClassifierModel } from "~/server/neurflow/model/loadModel";
import { planChannels } from "~/server/neurflow/model/channelSlice";
import { tf } from "~/server/neurflow/tf";

const dir = "tests/fixtures/toyworld-a";
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe("needed-channels planning", () => {
  it("restricts the last convolution and keeps elementwise ops on one channel", () => {
    // x → conv1 → relu → conv2 → add(x) → relu  (a BasicBlock)
    const conv = { kind: "producer" as const, restrict: () => () => [] };
    const ew = { kind: "elementwise" as const };
    const steps = [
      { inputs: ["x", "w1"], outputs: ["c1"], rule: conv },
      { inputs: ["c1"], outputs: ["r1"], rule: ew },
      { inputs: ["r1", "w2"], outputs: ["c2"], rule: conv },
      { inputs: ["c2", "x"], outputs: ["s"], rule: ew },
      { inputs: ["s"], outputs: ["y"], rule: ew },
    ];
    const sh = [1, 4, 4, 8];
    const shapes = new Map(["x", "c1", "r1", "c2", "s", "y"].map((n) => [n, sh]));
    const p = planChannels(
      steps,
      "y",
      shapes,
      (n) => n.startsWith("w"),
      () => undefined,
    );
    expect(p.modes).toEqual(["full", "full", "restricted", "channel", "channel"]);
    // the residual input x is produced in full (conv1 needs all of it) and sliced where added
    expect(p.sliceInput[3]).toEqual([false, true]);
  });

  it("falls back to all channels through an opaque op", () => {
    const steps = [
      { inputs: ["x"], outputs: ["c"], rule: { kind: "producer" as const, restrict: () => () => [] } },
      { inputs: ["c"], outputs: ["y"] },
    ];
    const shapes = new Map([
      ["x", [1, 2, 2, 4]],
      ["c", [1, 2, 2, 4]],
      ["y", [1, 2, 2, 4]],
    ]);
    expect(
      planChannels(
        steps,
        "y",
        shapes,
        () => false,
        () => undefined,
      ).modes,
    ).toEqual(["full", "full"]);
  });
});

describe("runChannel on imported models", () => {
  let toynet: ClassifierModel;
  beforeAll(async () => {
    await initBackend();
    toynet = await loadModel(`${dir}/manifest.json`);
  });

  it("equals the full slice, value and gradient, on every toynet layer pair", () => {
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
    const x0 = tf.randomNormal([2, 64, 64, 3], 0, 1, "float32", 3);
    for (let i = 0; i + 1 < names.length; i++) {
      const lower = toynet.layerTensor(names[i]!);
      const upper = toynet.layerTensor(names[i + 1]!);
      const x = toynet.graph.run({ [toynet.inputTensor]: x0 }, [lower])[0]!;
      const full = toynet.graph.run({ [lower]: x }, [upper])[0]!;
      const C = full.shape[full.rank - 1]!;
      for (const c of [0, C - 1, Math.floor(C / 3)]) {
        const one = toynet.graph.runChannel({ [lower]: x }, upper, c);
        const ref = full.rank === 4 ? full.slice([0, 0, 0, c], [-1, -1, -1, 1]) : full.slice([0, c], [-1, 1]);
        expect(one.shape).toEqual(ref.shape);
        expect(maxDiff(one, ref)).toBeLessThan(1e-5);
        const g1 = tf.grad((t: tf.Tensor) => toynet.graph.runChannel({ [lower]: t }, upper, c).sum())(x);
        const g2 = tf.grad((t: tf.Tensor) => {
          const o = toynet.graph.run({ [lower]: t }, [upper])[0]!;
          return (o.rank === 4 ? o.slice([0, 0, 0, c], [-1, -1, -1, 1]) : o.slice([0, c], [-1, 1])).sum();
        })(x);
        expect(maxDiff(g1, g2)).toBeLessThan(1e-5);
        tf.dispose([one, ref, g1, g2]);
      }
      tf.dispose([x, full]);
    }
  });

  it("refuses a channel the output does not have, with a clear error, on both kinds of slice", () => {
    const lower = toynet.layerTensor("layer4.1");
    const x = tf.zeros([1, 4, 4, 128]);
    // the head has no convolution to restrict (a plain slice); a block has one (a restricted slice)
    expect(() => toynet.graph.runChannel({ [lower]: x }, toynet.layerTensor("fc"), 6)).toThrow(
      /has 6 channels; there is no channel 6/,
    );
    const block = toynet.graph.run({ [toynet.layerTensor("layer4.0")]: x }, [lower])[0]!;
    expect(() => toynet.graph.runChannel({ [toynet.layerTensor("layer4.0")]: x }, lower, 128)).toThrow(
      /has 128 channels; there is no channel 128/,
    );
    expect(() => toynet.graph.runChannel({ [toynet.layerTensor("layer4.0")]: x }, lower, -1)).toThrow(/no channel -1/);
    // and the graph still works afterwards
    expect(toynet.graph.runChannel({ [toynet.layerTensor("layer4.0")]: x }, lower, 127).shape).toEqual([1, 4, 4, 1]);
    tf.dispose([x, block]);
  });

  it("equals the full output on the torchvision-style test models", async () => {
    const files = readdirSync("tests/fixtures/models").filter((f) => f.endsWith(".onnx"));
    expect(files.length).toBeGreaterThan(5);
    const { importOnnx } = await import("~/server/neurflow/model/onnx/importOnnx");
    const { readFileSync } = await import("node:fs");
    let checked = 0;
    for (const f of files) {
      let g;
      try {
        g = importOnnx(new Uint8Array(readFileSync(`tests/fixtures/models/${f}`)));
      } catch {
        continue; // fixtures that are deliberately broken
      }
      const inputShape = [1, 32, 32, 3];
      const x = tf.randomNormal(inputShape, 0, 1, "float32", 5);
      // every intermediate conv-block output that is 4-D: one channel from the input
      for (const node of g.nodes.filter((n) => n.op === "Relu" || n.op === "Add" || n.op === "Clip").slice(-3)) {
        const out = node.outputs[0]!;
        let full: tf.Tensor;
        try {
          full = g.run({ [g.inputName]: x }, [out])[0]!;
        } catch {
          continue;
        }
        if (full.rank !== 4) continue;
        const one = g.runChannel({ [g.inputName]: x }, out, 1);
        expect(maxDiff(one, full.slice([0, 0, 0, 1], [-1, -1, -1, 1]))).toBeLessThan(1e-4);
        checked++;
        tf.dispose([full, one]);
      }
      x.dispose();
      g.dispose();
    }
    expect(checked).toBeGreaterThan(10);
  });
});
