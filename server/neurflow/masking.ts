/**
 * Masking: zero chosen neurons (channels) of one or more layers and run the network on. "mask"
 * zeroes the given channels; "retain" zeroes every other channel. With several layers the masks
 * apply in order from the input up, each on the output of the last (the paper's "from the
 * classifier down to a layer": every layer's core neurons masked at once). A masked channel is
 * zero at every spatial position (the authors' `data[:, indices] = 0`).
 */
import type { ClassifierModel } from "./model/loadModel";
import { tf } from "./tf";

export type MaskMode = "mask" | "retain";

export interface LayerMask {
  /** Manifest layer name. */
  layer: string;
  channels: readonly number[];
  mode: MaskMode;
}

/** The 0/1 keep vector of a mask over `channels` channels; throws for a channel out of range. */
export function keepVector(mask: Pick<LayerMask, "channels" | "mode" | "layer">, channels: number): Float32Array {
  const keep = new Float32Array(channels).fill(mask.mode === "mask" ? 1 : 0);
  for (const c of mask.channels) {
    if (!Number.isInteger(c) || c < 0 || c >= channels) {
      throw new Error(`layer "${mask.layer}" has ${channels} channels; cannot mask channel ${c}`);
    }
    keep[c] = mask.mode === "mask" ? 0 : 1;
  }
  return keep;
}

/** x with its last axis multiplied by `keep` (NHWC maps or [N, units]). */
export function applyKeep(x: tf.Tensor, keep: Float32Array): tf.Tensor {
  const C = x.shape[x.rank - 1]!;
  if (C !== keep.length) throw new Error(`mask has ${keep.length} channels, the tensor ${C}`);
  return tf.tidy(() => tf.mul(x, tf.tensor1d(keep)));
}

/** Channels (last axis) of a layer's output, from one input of the batch. */
export function layerWidth(model: ClassifierModel, inputs: tf.Tensor4D, layer: string): number {
  const t = tf.tidy(
    () => model.graph.run({ [model.graph.inputName]: inputs.slice(0, 1) }, [model.layerTensor(layer)])[0]!,
  );
  const width = t.shape[t.rank - 1]!;
  t.dispose();
  return width;
}

/** Orders masks from the input up by the manifest's layer order; one mask per layer. */
export function orderMasks(model: ClassifierModel, masks: readonly LayerMask[]): LayerMask[] {
  const order = new Map(model.manifest.layers.map((l, i) => [l.name, i]));
  const seen = new Set<string>();
  for (const m of masks) {
    if (!order.has(m.layer))
      throw new Error(`unknown layer "${m.layer}"; the model has ${[...order.keys()].join(", ")}`);
    if (seen.has(m.layer)) throw new Error(`layer "${m.layer}" is masked twice; merge its channels into one mask`);
    seen.add(m.layer);
  }
  return [...masks].sort((a, b) => order.get(a.layer)! - order.get(b.layer)!);
}

/**
 * Runs normalised inputs [N,S,S,3] through the model with the masks applied, returning the tensor
 * `output` (default: the logits). Synchronous tensor code: call it inside your own tidy if needed.
 */
export function runMasked(
  model: ClassifierModel,
  inputs: tf.Tensor4D,
  masks: readonly LayerMask[],
  output?: string,
): tf.Tensor {
  const ordered = orderMasks(model, masks);
  const out = output ?? model.logitsTensor;
  return tf.tidy(() => {
    let feedName = model.graph.inputName;
    let feed: tf.Tensor = inputs;
    for (const m of ordered) {
      const tensor = model.layerTensor(m.layer);
      const x = model.graph.run({ [feedName]: feed }, [tensor])[0]!;
      feed = applyKeep(x, keepVector(m, x.shape[x.rank - 1]!));
      feedName = tensor;
    }
    return model.graph.run({ [feedName]: feed }, [out])[0]!;
  });
}

/** Row-wise softmax of logits [N, classes]. */
export function softmaxRows(logits: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / classes; r++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r * classes + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[r * classes + c] = Math.exp(logits[r * classes + c]! - max);
    for (let c = 0; c < classes; c++) out[r * classes + c]! /= sum;
  }
  return out;
}

export interface MaskedPrediction {
  /** Logits [N × classes] row-major. */
  logits: Float32Array;
  classes: number;
}

/** Masked logits of normalised inputs, in batches. */
export async function maskedLogits(
  model: ClassifierModel,
  inputs: tf.Tensor4D,
  masks: readonly LayerMask[],
  batchSize = 64,
): Promise<MaskedPrediction> {
  const N = inputs.shape[0];
  const classes = model.manifest.classes.length;
  const logits = new Float32Array(N * classes);
  for (let i = 0; i < N; i += batchSize) {
    const n = Math.min(batchSize, N - i);
    const out = tf.tidy(() => runMasked(model, tf.slice(inputs, i, n), masks));
    logits.set((await out.data()) as Float32Array, i * classes);
    out.dispose();
  }
  return { logits, classes };
}

/** Share of rows whose argmax is `classIndex`. */
export function accuracyOf(p: MaskedPrediction, classIndex: number): number {
  const N = p.logits.length / p.classes;
  if (N === 0) return 0;
  let hits = 0;
  for (let r = 0; r < N; r++) {
    let best = 0;
    for (let c = 1; c < p.classes; c++) if (p.logits[r * p.classes + c]! > p.logits[r * p.classes + best]!) best = c;
    if (best === classIndex) hits++;
  }
  return hits / N;
}

/** Class probability of each row. */
export function classProbabilities(p: MaskedPrediction, classIndex: number): Float32Array {
  const probs = softmaxRows(p.logits, p.classes);
  return Float32Array.from({ length: probs.length / p.classes }, (_, r) => probs[r * p.classes + classIndex]!);
}
