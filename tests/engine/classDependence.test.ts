import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow/backend";
import { chooseFalsePositives, quantile, rankAmong } from "~/server/neurflow/evaluations/classDependence";
import { parseClassDependence } from "~/server/neurflow/evaluations/classDependenceFormat";
import { disposeSlice, knockoutOutputs, knockoutSlice } from "~/server/neurflow/evaluations/knockout";
import { maskedLogits } from "~/server/neurflow/masking";
import { loadModel, type ClassifierModel } from "~/server/neurflow/model/loadModel";
import type { Patch } from "~/server/neurflow/patches";
import type { tf } from "~/server/neurflow/tf";
import { readWorld } from "~/server/toyworld/check";
import { recoveryScenes, scenesInput } from "~/server/toyworld/recoveryScenes";

describe("class dependence: statistics", () => {
  it("quantile interpolates linearly (numpy's default)", () => {
    const xs = [1, 2, 3, 4, 5];
    expect(quantile(xs, 0)).toBe(1);
    expect(quantile(xs, 1)).toBe(5);
    expect(quantile(xs, 0.5)).toBe(3);
    expect(quantile(xs, 0.975)).toBeCloseTo(4.9, 12);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it("ranks a value among the draws: percentile with ties half, one-sided p with the +1 correction", () => {
    const draws = [0, 1, 2, 3];
    expect(rankAmong(10, draws)).toEqual({ percentile: 1, pValue: 1 / 5 });
    expect(rankAmong(-1, draws)).toEqual({ percentile: 0, pValue: 5 / 5 });
    expect(rankAmong(2, draws)).toEqual({ percentile: 2.5 / 4, pValue: 3 / 5 });
  });

  it("takes the false positives proper first (largest margin first), then the nearest misses", () => {
    // 4 images × 3 classes; class 0
    const logits = Float32Array.from([
      1,
      5,
      0, // miss, margin −4
      6,
      1,
      2, // assigned, margin 4
      3,
      2,
      0, // assigned, margin 1
      2,
      3,
      0, // miss, margin −1
    ]);
    const fps = chooseFalsePositives(logits, 3, 0, 3);
    expect(fps.map((f) => [f.image, f.assigned, f.margin])).toEqual([
      [1, true, 4],
      [2, true, 1],
      [3, false, -1],
    ]);
    expect(chooseFalsePositives(logits, 3, 0, 0)).toEqual([]);
  });

  it("refuses data that is not a class-dependence report", () => {
    expect(() => parseClassDependence({ kind: "optimality" })).toThrow(/not a class-dependence report/);
    expect(() => parseClassDependence({ kind: "classDependence", groups: [] })).toThrow(/class/);
  });
});

describe("class dependence: knockoutOutputs", () => {
  let model: ClassifierModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await initBackend();
    model = await loadModel("models/toyworld5/manifest.json");
    x = scenesInput(model, recoveryScenes("fidelity", "tree", 6, 3, readWorld("models/toyworld5")));
  });
  afterAll(() => {
    x?.dispose();
    model?.dispose();
  });

  it("gives every logit with channels zeroed, as the plain masked run does", async () => {
    const wholes: Patch[] = Array.from({ length: 6 }, (_, i) => [i, 0, 0, 64]);
    for (const layer of ["layer4.0", "layer4.1"]) {
      const s = knockoutSlice(model, x, wholes, layer, layer, 4, { upperTensor: model.logitsTensor });
      try {
        for (const channels of [[], [3, 17, 40], Array.from({ length: 80 }, (_, i) => i)]) {
          const got = await knockoutOutputs(s, channels);
          const want = await maskedLogits(model, x, [{ layer, channels, mode: "mask" }]);
          expect(got.channels).toBe(want.classes);
          got.values.forEach((v, i) => expect(v).toBeCloseTo(want.logits[i]!, 3));
        }
        // a masked set changes the logits (the test can fail)
        const a = await knockoutOutputs(s, []);
        const b = await knockoutOutputs(
          s,
          Array.from({ length: 40 }, (_, i) => i),
        );
        expect(a.values.some((v, i) => Math.abs(v - b.values[i]!) > 1e-2)).toBe(true);
      } finally {
        disposeSlice(s);
      }
    }
  });
});
