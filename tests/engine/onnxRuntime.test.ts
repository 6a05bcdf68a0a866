/**
 * Integrated gradients compiled for onnxruntime (server/neurflow/onnxruntime/) against the
 * TensorFlow.js implementation, on slices of the ONNX fixtures: bottleneck and basic residual blocks,
 * inception branches (concatenation, max pooling, padding), MobileNetV2 blocks (depthwise
 * convolutions, ReLU6), an EfficientNet block (SiLU, squeeze-excitation), dense heads, an opset-11
 * model, a target channel's convolution of unusual geometry on the rows; and slices it must refuse by name, which the engine then runs on TensorFlow.js.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow/backend";
import { integratedGradients } from "~/server/neurflow/integratedGradients";
import type { TensorGraph } from "~/server/neurflow/model/graph";
import { importOnnx } from "~/server/neurflow/model/onnx/importOnnx";
import { OnnxRuntimeModel } from "~/server/neurflow/onnxruntime/onnxRuntimeModel";
import { embeddedRule, quadratureRule } from "~/server/neurflow/quadrature";
import { tf } from "~/server/neurflow/tf";
import { modelPath, randomTensor } from "./onnxTestUtils";

const rule = quadratureRule("gausslegendre", 8);

/** Relative L2 difference of the per-patch attributions, and of the totals. */
async function compare(file: string, size: number, lower: string | number, upper: string | number, target: number) {
  const graph: TensorGraph = importOnnx(readFileSync(modelPath(file)));
  const ortModel = (await OnnxRuntimeModel.open(modelPath(file), undefined))!;
  try {
    const names = graph.nodes.map((n) => n.outputs[0]!).filter(Boolean);
    const pick = (t: string | number) => (typeof t === "string" ? t : t < 0 ? graph.outputNames[0]! : names[t]!);
    const lo = pick(lower);
    const up = pick(upper);
    const x = tf.tidy(() => graph.run({ [graph.inputName]: randomTensor([3, size, size, 3], 7, -2, 2) }, [lo])[0]!);
    const a = await integratedGradients({ graph, lowerTensor: lo, upperTensor: up }, target, x, rule);
    const b = await ortModel.integratedGradients(lo, up, target, (await x.data()) as Float32Array, x.shape, rule);
    x.dispose();
    if (!b) return { refused: ortModel.refusals.join("; ") };
    const rel = (p: ArrayLike<number>, q: ArrayLike<number>) => {
      let num = 0;
      let den = 0;
      for (let i = 0; i < p.length; i++) {
        num += (p[i]! - q[i]!) ** 2;
        den += p[i]! ** 2;
      }
      return Math.sqrt(num / Math.max(den, 1e-30));
    };
    return {
      perPatch: rel(a.perPatch, b.perPatch),
      totals: rel(a.totals, b.totals),
      magnitude: Math.max(...Array.from(a.perPatch, Math.abs)),
    };
  } finally {
    graph.dispose();
    await ortModel.close();
  }
}

describe("integrated gradients on onnxruntime", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });

  // [fixture, lower (node index or tensor; -1: the logits), upper, target]
  const same: [string, number | string, number | string, number][] = [
    ["resnet_blocks", 11, 23, 3],
    ["resnet_blocks", 23, -1, 1],
    ["tv_resnet18_tiny", 13, 19, 5],
    ["inception", 3, 13, 2],
    ["inception", 3, 13, 13],
    ["mobilenetv2_blocks", 11, 28, 4],
    ["efficientnet_block", 3, 14, 1],
    ["misc_ops", 3, 5, 0],
    ["misc_ops", 13, -1, 2],
    ["tv_mobilenet_v2_tiny", 16, 27, 1],
    ["tv_mobilenet_v2_tiny", 97, -1, 3],
    ["vgg_like", 2, 7, 1],
    ["dropout_gemm", 0, -1, 0],
    // the target channel's 3×5 convolution (stride, dilation, bias) on every row, rewritten per tap
    ["channel_convs", "/Relu_output_0", "/Sigmoid_output_0", 2],
    ["channel_convs", "/Relu_output_0", "/Sigmoid_output_0", 5],
  ];
  for (const [file, lower, upper, target] of same) {
    it(`equal TensorFlow.js's on ${file} (${lower} → ${upper}, channel ${target})`, async () => {
      const r = await compare(file, file === "dropout_gemm" ? 8 : 32, lower, upper, target);
      expect(r.refused).toBeUndefined();
      expect(r.magnitude).toBeGreaterThan(0);
      expect(r.perPatch).toBeLessThan(1e-5);
      expect(r.totals).toBeLessThan(1e-5);
    });
  }

  it("gives the embedded rule's attribution from the same evaluations, whole and shared (Gauss–Kronrod)", async () => {
    const kronrod = quadratureRule("gausskronrod", 15);
    const gauss = embeddedRule(kronrod)!;
    for (const [file, lower, upper, target] of [
      ["resnet_blocks", 11, 23, 3],
      ["inception", 3, 13, 13],
    ] as const) {
      const graph: TensorGraph = importOnnx(readFileSync(modelPath(file)));
      const ortModel = (await OnnxRuntimeModel.open(modelPath(file), undefined))!;
      try {
        const names = graph.nodes.map((n) => n.outputs[0]!).filter(Boolean);
        const [lo, up] = [names[lower]!, names[upper]!];
        const x = tf.tidy(() => graph.run({ [graph.inputName]: randomTensor([4, 32, 32, 3], 5, -2, 2) }, [lo])[0]!);
        const data = (await x.data()) as Float32Array;
        const tfjs = await integratedGradients({ graph, lowerTensor: lo, upperTensor: up }, target, x, kronrod);
        x.dispose();
        const whole = (await ortModel.integratedGradients(lo, up, target, data, x.shape, kronrod))!;
        const shared = (await ortModel.integratedGradients(lo, up, target, data, x.shape, kronrod, 1 << 24, {
          patchIds: [0, 1, 2, 3],
          budgetBytes: 1 << 30,
          minFlopsPerValue: 16,
        }))!;
        const alone = (await ortModel.integratedGradients(lo, up, target, data, x.shape, gauss))!;
        expect(alone.embedded).toBeUndefined();
        const scale = Math.max(...Array.from(alone.perPatch, Math.abs));
        expect(scale).toBeGreaterThan(0);
        for (const r of [whole, shared, tfjs]) {
          expect(r.embedded).toHaveLength(alone.perPatch.length);
          r.embedded!.forEach((v, i) => expect(Math.abs(v - alone.perPatch[i]!)).toBeLessThan(1e-5 * scale));
          // and the Kronrod result differs from it (else the estimate would say nothing)
          expect(r.perPatch.some((v, i) => Math.abs(v - alone.perPatch[i]!) > 1e-7 * scale)).toBe(true);
        }
      } finally {
        graph.dispose();
        await ortModel.close();
      }
    }
  });

  // [fixture, lower, upper, whether the rows have a convolution independent of the target channel]
  // (a bottleneck's 3×3 and a MobileNetV2 block's depthwise convolution do; a basic block's rows
  // have only a ReLU before the target's convolution; inception's channels 0-2 come from its 1×1
  // branch). These narrow models are below the default FLOPs-per-value bar: the tests lower it.
  const shared: [string, number, number, boolean][] = [
    ["resnet_blocks", 11, 23, true],
    ["tv_resnet18_tiny", 13, 19, false],
    ["inception", 3, 13, false],
    ["mobilenetv2_blocks", 11, 28, true],
  ];
  for (const [file, lower, upper, sharing] of shared) {
    it(`targets sharing the forward work get what each gets alone (${file}, ${lower} → ${upper})`, async () => {
      const graph: TensorGraph = importOnnx(readFileSync(modelPath(file)));
      const ortModel = (await OnnxRuntimeModel.open(modelPath(file), undefined))!;
      try {
        const names = graph.nodes.map((n) => n.outputs[0]!).filter(Boolean);
        const [lo, up] = [names[lower]!, names[upper]!];
        // 12 patches; each target takes 8 of them, overlapping the others'
        const all = tf.tidy(() => graph.run({ [graph.inputName]: randomTensor([12, 32, 32, 3], 11, -2, 2) }, [lo])[0]!);
        const rowShape = all.shape.slice(1);
        for (const target of [0, 1, 2]) {
          const ids = Array.from({ length: 8 }, (_, i) => (i * 5 + target * 3) % 12);
          const x = tf.gather(all, ids);
          const data = (await x.data()) as Float32Array;
          x.dispose();
          const alone = (await ortModel.integratedGradients(lo, up, target, data, [8, ...rowShape], rule))!;
          const together = (await ortModel.integratedGradients(lo, up, target, data, [8, ...rowShape], rule, 1 << 24, {
            patchIds: ids,
            budgetBytes: 1 << 30,
            minFlopsPerValue: 16,
          }))!;
          expect(ortModel.refusals).toStrictEqual([]);
          let num = 0;
          let den = 0;
          for (let i = 0; i < alone.perPatch.length; i++) {
            num += (alone.perPatch[i]! - together.perPatch[i]!) ** 2;
            den += alone.perPatch[i]! ** 2;
          }
          expect(den).toBeGreaterThan(0);
          expect(Math.sqrt(num / den)).toBeLessThan(1e-6);
          for (let i = 0; i < alone.totals.length; i++) expect(together.totals[i]).toBeCloseTo(alone.totals[i]!, 4);
        }
        // the forward work was kept where there is some to share
        if (sharing) expect(ortModel.sharedForwardBytes).toBeGreaterThan(0);
        else expect(ortModel.sharedForwardBytes).toBe(0);
        all.dispose();
      } finally {
        graph.dispose();
        await ortModel.close();
      }
    });
  }

  // [what, sharing options]: neither shares, and each target gets its whole model's result
  const notShared: [string, { budgetBytes: number; minFlopsPerValue?: number }][] = [
    ["a shared part too cheap for what it hands over is not shared (the default bar)", { budgetBytes: 1 << 30 }],
    [
      "without room for the shared forward work a target runs its whole model",
      { budgetBytes: 1, minFlopsPerValue: 16 },
    ],
  ];
  for (const [what, options] of notShared) {
    it(what, async () => {
      const ortModel = (await OnnxRuntimeModel.open(modelPath("resnet_blocks"), undefined))!;
      const graph: TensorGraph = importOnnx(readFileSync(modelPath("resnet_blocks")));
      try {
        const names = graph.nodes.map((n) => n.outputs[0]!).filter(Boolean);
        const x = tf.tidy(
          () => graph.run({ [graph.inputName]: randomTensor([4, 32, 32, 3], 5, -2, 2) }, [names[11]!])[0]!,
        );
        const data = (await x.data()) as Float32Array;
        const r = await ortModel.integratedGradients(names[11]!, names[23]!, 0, data, x.shape, rule, 1 << 24, {
          patchIds: [0, 1, 2, 3],
          ...options,
        });
        x.dispose();
        expect(r!.perPatch.some((v) => v !== 0)).toBe(true);
        expect(ortModel.sharedForwardBytes).toBe(0);
      } finally {
        graph.dispose();
        await ortModel.close();
      }
    });
  }

  it("refuses by name what it cannot differentiate (the engine then uses TensorFlow.js)", async () => {
    const shape = await compare("tv_shufflenet_v2_tiny", 32, 11, 34, 0);
    expect(shape.refused).toMatch(/Shape of a tensor the slice computes/);
    const pool = await compare("inception", 32, 14, -1, 1);
    expect(pool.refused).toMatch(/AveragePool with ceil_mode or padding not counted/);
    const swish = await compare("efficientnet_block", 32, 16, 17, 0);
    expect(swish.refused).toMatch(/no gradient for ONNX op HardSwish/);
    // padding whose sizes are computed (not stored) is not read at compile time
    const pad = await compare("misc_ops", 32, 5, 10, 0);
    expect(pad.refused).toMatch(/Pad other than non-negative constant padding/);
    const opset = await compare("attrs_opset9", 8, 1, 5, 0);
    expect(opset.refused).toMatch(/ONNX opset 9/);
  });
});
