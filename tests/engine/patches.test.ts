import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow/backend";
import { loadClassImages } from "~/server/neurflow/images";
import { cropGeometry, materializePatches, patchGrid, patchPixels } from "~/server/neurflow/patches";
import { tf } from "~/server/neurflow/tf";

const dir = "tests/fixtures/toyworld-a";

describe("patches", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("computes the reference crop geometry", () => {
    expect(cropGeometry(1, 64, 0.5)).toEqual({ size: 64, stride: 1, perSide: 1 });
    expect(cropGeometry(0.5, 64, 0.5)).toEqual({ size: 32, stride: 16, perSide: 3 });
    expect(cropGeometry(0.25, 64, 0.5)).toEqual({ size: 16, stride: 8, perSide: 7 });
    // int() truncation and the stride clamp: 0.3 × 224 = 67.2 → 67, stride 33
    expect(cropGeometry(0.3, 224, 0.5)).toEqual({ size: 67, stride: 33, perSide: 5 });
    expect(() => cropGeometry(0.001, 64, 0.5)).toThrow(/crop of 0 px/);
  });

  it("lists patches in the reference order (granularity, image, row-major window)", () => {
    const ref = JSON.parse(gunzipSync(readFileSync(`${dir}/reference/bee-tau8.json.gz`)).toString()) as {
      patches: number[][];
    };
    const ours = patchGrid(16, 64, [1, 0.5, 0.25], 0.5);
    expect(ours).toHaveLength(944);
    expect(ours).toEqual(ref.patches);
  });

  it("crops and resizes like the reference (bilinear, half-pixel centres)", async () => {
    const meta = JSON.parse(readFileSync(`${dir}/patches/bee-003-crops.json`, "utf8")) as {
      shape: number[];
      crops: [number, number][];
    };
    const expected = new Float32Array(
      new Uint8Array(gunzipSync(readFileSync(`${dir}/patches/bee-003-crops.f32.gz`))).buffer,
    );
    const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8")) as {
      input: { mean: number[]; std: number[] };
    };
    const img = await loadClassImages([`${dir}/images/bee/003.png`], 64);
    const images = tf.tidy(() =>
      tf
        .tensor4d(img.pixels, [1, 64, 64, 3])
        .div(255)
        .sub(tf.tensor1d(manifest.input.mean))
        .div(tf.tensor1d(manifest.input.std)),
    ) as tf.Tensor4D;
    const grid = patchGrid(1, 64, [1, 0.5, 0.25], 0.5);
    const offsets: Record<number, number> = { 1: 0, 0.5: 1, 0.25: 10 };
    const indices = meta.crops.map(([g, i]) => offsets[g]! + i);
    const got = materializePatches(images, grid, indices);
    expect(got.shape).toEqual(meta.shape);
    const data = got.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(data[i]! - expected[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    got.dispose();
    images.dispose();
  });

  it("cuts the same patches on the host as TensorFlow.js's kernel, bit for bit (onnxruntime's input)", () => {
    // 224 px with crops of 67, 29 and 112 px (scales that are not powers of two), and 64 px
    for (const [S, granularities] of [
      [224, [1, 0.5, 0.3, 0.13]],
      [64, [1, 0.5, 0.25, 0.3]],
    ] as [number, number[]][]) {
      const images = tf.randomUniform([2, S, S, 3], -2, 2, "float32", S) as tf.Tensor4D;
      const grid = patchGrid(2, S, granularities, 0.5);
      // every crop size, both images, first and last windows
      const indices = [0, 1, 2, 9, 12, 20, grid.length - 40, grid.length - 2, grid.length - 1];
      const want = materializePatches(images, grid, indices);
      const got = patchPixels(images.dataSync() as Float32Array, S, grid, indices);
      const w = want.dataSync();
      expect(got.length).toBe(w.length);
      let differ = 0;
      for (let i = 0; i < w.length; i++) if (got[i] !== w[i]) differ++;
      expect(differ).toBe(0);
      want.dispose();
      images.dispose();
    }
  });

  it("refuses a patch that is not in the images", () => {
    const grid = patchGrid(1, 64, [1, 0.5], 0.5);
    const pixels = new Float32Array(64 * 64 * 3);
    expect(() => patchPixels(pixels, 64, grid, [grid.length])).toThrow(/patch 10 does not exist/);
    expect(() => patchPixels(pixels, 64, [[1, 0, 0, 32]], [0])).toThrow(/outside the images/);
    expect(() => patchPixels(pixels, 64, [[0, 40, 0, 32]], [0])).toThrow(/outside the images/);
  });
});
