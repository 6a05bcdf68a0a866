/**
 * Integrated-gradients heatmaps of a neuron group's concept patches, for the detail panel's
 * overlay: for each patch x (as the model saw it: the crop resized to the input size),
 * IG of f(x) = Σ over the group's member neurons of their activation (spatial mean of the channel;
 * a dense layer's unit as is) with respect to the model's input, baseline 0 in the normalised
 * input space (the engine's convention), Gauss–Legendre quadrature; the heatmap is Σ over colour
 * channels of |attribution| per pixel, scaled by its 99th percentile, drawn as a translucent
 * yellow-to-red PNG (RGBA) the panel lays over the patch.
 *
 * Runs in the worker (the web process never loads TensorFlow.js); uses the engine's public model
 * API (`loadModel`, `graph.runChannel`, `preprocess`) and changes nothing in it.
 */
import type { tf as TF } from "~/server/neurflow";
import type { Db } from "~/db/client";
import { localHeatmapStore, type HeatmapGroup } from "./inputs";

export const HEATMAP_STEPS = 16;

export interface HeatmapResult {
  patches: number[];
  seconds: number;
  /** Worst relative completeness error |Σ attribution − (f(x) − f(0))| / |f(x) − f(0)| over the patches. */
  completeness: number;
}

/** Colours a [S×S] map scaled to 0..1 as RGBA: yellow → red, alpha rising with the value. */
export function colourise(v: Float32Array, size: number): Buffer {
  const out = Buffer.alloc(size * size * 4);
  for (let i = 0; i < size * size; i++) {
    const t = Math.max(0, Math.min(1, v[i]!));
    out[i * 4] = 255;
    out[i * 4 + 1] = Math.round(220 * (1 - t));
    out[i * 4 + 2] = 0;
    out[i * 4 + 3] = Math.round(210 * Math.sqrt(t));
  }
  return out;
}

export interface HeatmapOptions {
  steps?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** A group's heatmaps from the database and the storage folder (what a local worker computes). */
export async function computeHeatmaps(
  db: Db,
  root: string,
  circuitId: number,
  groupRowId: number,
  opts: HeatmapOptions = {},
): Promise<HeatmapResult> {
  return computeGroupHeatmaps(await localHeatmapStore(db, root).open(circuitId, groupRowId, null), opts);
}

/** A group's heatmaps from its inputs (a local or a remote worker's `HeatmapStore`), each saved as it is done. */
export async function computeGroupHeatmaps(group: HeatmapGroup, opts: HeatmapOptions = {}): Promise<HeatmapResult> {
  const started = Date.now();
  const engine = await import("~/server/neurflow");
  await engine.initBackend();
  const { tf, quadratureRule, targetActivation } = engine;
  const model = await engine.loadModel(group.manifestPath);
  try {
    const upper = model.layerTensor(group.layer);
    const neurons = group.neurons;
    const rule = quadratureRule("gausslegendre", opts.steps ?? HEATMAP_STEPS);
    const f = (inp: TF.Tensor): TF.Scalar =>
      tf.tidy(
        () =>
          neurons
            .map((n) => targetActivation(model.graph.runChannel({ [model.inputTensor]: inp }, upper, n), 0).sum())
            .reduce((a, b) => tf.add(a, b)) as TF.Scalar,
      );
    const grad = tf.grad(f);
    let worst = 0;
    const done: number[] = [];
    for (const idx of group.patches) {
      if (opts.signal?.aborted) throw Object.assign(new Error("canceled"), { name: "AbortError" });
      const raw = await group.patchRaw(idx);
      if (!raw) throw new Error("the circuit's dataset images are not on this server");
      const S = raw.size;
      const { heat, total, delta } = tf.tidy(() => {
        const x = model.preprocess(tf.tensor4d(Float32Array.from(raw.data), [1, S, S, 3]));
        const alphas = Array.from(rule.alphas);
        const scaled = tf.concat(
          alphas.map((a) => tf.mul(x, a)),
          0,
        );
        const g = grad(scaled) as TF.Tensor4D;
        const w = tf.tensor1d(Array.from(rule.weights)).reshape([alphas.length, 1, 1, 1]);
        const attr = tf.mul(tf.sum(tf.mul(g, w), 0, true), x);
        const fx = f(x);
        const f0 = f(tf.zerosLike(x));
        return { heat: tf.sum(tf.abs(attr), 3).reshape([S * S]), total: tf.sum(attr), delta: tf.sub(fx, f0) };
      });
      const [h, t, d] = await Promise.all([heat.data() as Promise<Float32Array>, total.data(), delta.data()]);
      tf.dispose([heat, total, delta]);
      const sorted = Float32Array.from(h).sort();
      const scale = sorted[Math.floor(0.99 * (sorted.length - 1))]! || sorted[sorted.length - 1]! || 1;
      const scaled = h.map((v) => v / scale);
      worst = Math.max(worst, Math.abs(t[0]! - d[0]!) / Math.max(Math.abs(d[0]!), 1e-6));
      await group.save(idx, colourise(scaled, S), S);
      done.push(idx);
      opts.onProgress?.(done.length, group.patches.length);
    }
    return { patches: done, seconds: (Date.now() - started) / 1000, completeness: worst };
  } finally {
    model.dispose();
  }
}
