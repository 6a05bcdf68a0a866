/**
 * Knockout of lower-layer neurons and its effect on one upper-layer neuron, the measurement behind
 * the optimality and weight-fidelity evaluations (the authors' `masked_probing` + `accuracy`): the
 * lower layer's maps of every patch are computed once; zeroing a set of lower channels and running
 * the slice up to the target gives the target's activation (spatial mean) on every patch; the
 * knockout *retention* is the share of the target's top-k patches that are still in its top k.
 * Lower retention = the set matters more for the target. Only the target's channel is computed.
 *
 * Knocking out a few channels reuses one forward pass: the layers that read the lower layer
 * linearly (a block's first convolution, which is most of the work) are run once on the full maps;
 * for a knocked-out set S their output is that, minus the contribution of S alone (a convolution
 * over |S| input channels), and only the rest of the slice runs per set. Exact up to float
 * rounding; sets larger than half the layer take the plain path.
 */
import { computeLayerMaps, spatialMean } from "../activations";
import { topIndices } from "../coreNeurons";
import type { LinearConsumer } from "../model/graph";
import type { ClassifierModel } from "../model/loadModel";
import type { Patch } from "../patches";
import { tf } from "../tf";
import { applyKeep } from "../masking";
import { channelOf } from "../model/channelSlice";

export interface KnockoutSlice {
  model: ClassifierModel;
  lowerTensor: string;
  upperTensor: string;
  /** Lower maps of every patch, in chunks along the batch axis. */
  chunks: tf.Tensor[];
  /** Channels of the lower layer. */
  channels: number;
  patchCount: number;
  /** Nodes reading the lower layer linearly, and their outputs on each chunk (unmasked). */
  linear: LinearConsumer[];
  bases: tf.Tensor[][];
  /**
   * With the linear consumers fed, whether the rest of the slice reads the lower layer only at the
   * target's channel (a residual input); then each chunk's target channel is kept for the current
   * target, and fed alone.
   */
  narrowLower: boolean | null;
  targetChannel: { target: number; chunks: tf.Tensor[] } | null;
}

export function knockoutSlice(
  model: ClassifierModel,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  lowerLayer: string,
  upperLayer: string,
  batchSize = 64,
  options: { reuseLinear?: boolean; upperTensor?: string } = {},
): KnockoutSlice {
  const lowerTensor = model.layerTensor(lowerLayer);
  const upperTensor = options.upperTensor ?? model.layerTensor(upperLayer);
  const chunks: tf.Tensor[] = [];
  for (let i = 0; i < patches.length; i += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, patches.length - i) }, (_, j) => i + j);
    chunks.push(computeLayerMaps(model.graph, images, patches, idx, lowerTensor, batchSize));
  }
  const channels = chunks[0]!.shape[chunks[0]!.rank - 1]!;
  const linear =
    options.reuseLinear === false || chunks[0]!.rank !== 4 ? [] : (model.graph.linearConsumers?.(lowerTensor) ?? []);
  const bases = linear.length
    ? chunks.map((c) =>
        model.graph.run(
          { [lowerTensor]: c },
          linear.map((l) => l.output),
        ),
      )
    : [];
  return {
    model,
    lowerTensor,
    upperTensor,
    chunks,
    channels,
    patchCount: patches.length,
    linear,
    bases,
    narrowLower: null,
    targetChannel: null,
  };
}

export function disposeSlice(s: KnockoutSlice): void {
  s.chunks.forEach((c) => c.dispose());
  s.bases.flat().forEach((t) => t.dispose());
  s.targetChannel?.chunks.forEach((t) => t.dispose());
  s.chunks = [];
  s.bases = [];
  s.targetChannel = null;
}

/** The target's activation (spatial mean) on every patch with the given lower channels zeroed. */
export async function knockoutActivations(
  s: KnockoutSlice,
  target: number,
  zeroed: readonly number[],
): Promise<Float32Array> {
  const keep = new Float32Array(s.channels).fill(1);
  for (const c of zeroed) {
    if (!Number.isInteger(c) || c < 0 || c >= s.channels)
      throw new Error(`the lower layer has ${s.channels} channels; cannot zero channel ${c}`);
    keep[c] = 0;
  }
  const out = new Float32Array(s.patchCount);
  let offset = 0;
  // reuse the linear consumers' outputs unless the set is most of the layer
  const reuse = s.linear.length > 0 && zeroed.length * 2 <= s.channels;
  const narrow = reuse && lowerReadAtTargetOnly(s);
  if (narrow && s.targetChannel?.target !== target) {
    s.targetChannel?.chunks.forEach((t) => t.dispose());
    s.targetChannel = { target, chunks: s.chunks.map((c) => channelOf(c, target)) };
  }
  for (const [ci, chunk] of s.chunks.entries()) {
    const a = tf.tidy(() => {
      const lower = narrow
        ? keep[target]
          ? s.targetChannel!.chunks[ci]!
          : tf.zerosLike(s.targetChannel!.chunks[ci]!)
        : zeroed.length
          ? applyKeep(chunk, keep)
          : chunk;
      const feeds: Record<string, tf.Tensor> = { [s.lowerTensor]: lower };
      if (reuse) {
        const xS = zeroed.length ? tf.gather(chunk, [...zeroed], chunk.rank - 1) : null;
        s.linear.forEach((l, j) => {
          const base = s.bases[ci]![j]!;
          feeds[l.output] = xS ? tf.sub(base, l.partial(xS, zeroed)) : base;
        });
      }
      const y = s.model.graph.runChannel(feeds, s.upperTensor, target);
      return spatialMean(y).reshape([-1]);
    });
    out.set((await a.data()) as Float32Array, offset);
    offset += chunk.shape[0]!;
    a.dispose();
  }
  return out;
}

/**
 * Every channel of the upper tensor (spatial mean; [patches × channels] row-major) with the given
 * lower channels zeroed: e.g. all the logits, for the class-dependence report's flips. The same
 * reuse of the linear consumers as `knockoutActivations`, without the one-channel shortcut.
 */
export async function knockoutOutputs(
  s: KnockoutSlice,
  zeroed: readonly number[],
): Promise<{ values: Float32Array; channels: number }> {
  const keep = new Float32Array(s.channels).fill(1);
  for (const c of zeroed) {
    if (!Number.isInteger(c) || c < 0 || c >= s.channels)
      throw new Error(`the lower layer has ${s.channels} channels; cannot zero channel ${c}`);
    keep[c] = 0;
  }
  const reuse = s.linear.length > 0 && zeroed.length * 2 <= s.channels;
  const parts: Float32Array[] = [];
  let channels = 0;
  for (const [ci, chunk] of s.chunks.entries()) {
    const a = tf.tidy(() => {
      const feeds: Record<string, tf.Tensor> = { [s.lowerTensor]: zeroed.length ? applyKeep(chunk, keep) : chunk };
      if (reuse) {
        const xS = zeroed.length ? tf.gather(chunk, [...zeroed], chunk.rank - 1) : null;
        s.linear.forEach((l, j) => {
          const base = s.bases[ci]![j]!;
          feeds[l.output] = xS ? tf.sub(base, l.partial(xS, zeroed)) : base;
        });
      }
      return spatialMean(s.model.graph.run(feeds, [s.upperTensor])[0]!);
    });
    channels = a.shape[1];
    parts.push((await a.data()) as Float32Array);
    a.dispose();
  }
  const values = new Float32Array(s.patchCount * channels);
  let offset = 0;
  for (const p of parts) {
    values.set(p, offset);
    offset += p.length;
  }
  return { values, channels };
}

function lowerReadAtTargetOnly(s: KnockoutSlice): boolean {
  if (s.narrowLower === null) {
    const feeds: Record<string, tf.Tensor> = { [s.lowerTensor]: s.chunks[0]! };
    s.linear.forEach((l, j) => (feeds[l.output] = s.bases[0]![j]!));
    s.narrowLower = s.model.graph.oneChannelFeeds?.(feeds, s.upperTensor).includes(s.lowerTensor) ?? false;
  }
  return s.narrowLower;
}

/** Share of `top` (the unmasked top-k patches) still in the top k of `activations`. */
export function topKRetention(top: readonly number[], activations: Float32Array): number {
  if (top.length === 0) return 0;
  const now = new Set(topIndices(activations, top.length));
  let kept = 0;
  for (const p of top) if (now.has(p)) kept++;
  return kept / top.length;
}

/** Baseline top-k patches of the target, then the retention of each knockout set. */
export async function knockoutRetentions(
  s: KnockoutSlice,
  target: number,
  k: number,
  sets: readonly (readonly number[])[],
  onSet?: (done: number, total: number) => void,
): Promise<{ top: number[]; retention: Float64Array }> {
  const base = await knockoutActivations(s, target, []);
  const top = topIndices(base, Math.min(k, base.length));
  const retention = new Float64Array(sets.length);
  for (let i = 0; i < sets.length; i++) {
    retention[i] = topKRetention(top, await knockoutActivations(s, target, sets[i]!));
    onSet?.(i + 1, sets.length);
  }
  return { top, retention };
}
