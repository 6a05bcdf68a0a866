/**
 * Labelling neurons by ground truth, leave-one-part-out (the FunnyBirds way): each scene is
 * re-rendered with one part left out — only that part's pixels change — and a neuron's activation
 * (the spatial mean of its channel on the whole image) is compared with the full render. A
 * neuron's label is the part whose removal lowers its activation most, averaged over the scenes
 * where that part is visible; no label when no removal lowers it at all.
 */
import { spatialMean, type ClassifierModel, tf } from "../neurflow";
import type { PartName } from "./parts";
import { renderScene } from "./render";
import type { Scene } from "./scenes";

export interface PartDrop {
  /** Mean over the scenes showing the part of (activation − activation without the part). */
  drop: number;
  /** Scenes where the part is visible. */
  scenes: number;
}

export interface NeuronPartLabel {
  neuron: number;
  /** Mean activation on the full renders. */
  activation: number;
  /** The part whose removal lowers the activation most; null when none lowers it. */
  label: PartName | null;
  drops: Partial<Record<PartName, PartDrop>>;
}

/** Spatial means of `layer` for rendered scenes [n × channels], in batches. */
export async function layerMeansOfScenes(
  model: ClassifierModel,
  scenes: readonly Scene[],
  layer: string,
  omit: readonly PartName[] = [],
  batchSize = 64,
): Promise<{ means: Float32Array; channels: number }> {
  const tensor = model.layerTensor(layer);
  const rows: Float32Array[] = [];
  let channels = 0;
  for (let i = 0; i < scenes.length; i += batchSize) {
    const batch = scenes.slice(i, i + batchSize);
    const S = batch[0]!.size;
    const pixels = new Float32Array(batch.length * S * S * 3);
    batch.forEach((s, j) => pixels.set(renderScene(s, { omit }).pixels, j * S * S * 3));
    const m = tf.tidy(() => {
      const x = model.preprocess(tf.tensor4d(pixels, [batch.length, S, S, 3]));
      return spatialMean(model.graph.run({ [model.graph.inputName]: x }, [tensor])[0]!);
    });
    channels = m.shape[1];
    rows.push((await m.data()) as Float32Array);
    m.dispose();
  }
  const means = new Float32Array(scenes.length * channels);
  let off = 0;
  for (const r of rows) {
    means.set(r, off);
    off += r.length;
  }
  return { means, channels };
}

export async function labelNeuronsByParts(
  model: ClassifierModel,
  layer: string,
  neurons: readonly number[],
  scenes: readonly Scene[],
  parts: readonly PartName[],
  onPart?: (part: PartName) => void,
): Promise<NeuronPartLabel[]> {
  const full = await layerMeansOfScenes(model, scenes, layer);
  const C = full.channels;
  const visible = scenes.map(
    (s) =>
      new Set(
        renderScene(s)
          .parts.filter((p) => p.area > 0)
          .map((p) => p.name),
      ),
  );
  const drops = new Map<PartName, { sums: Float64Array; scenes: number }>();
  for (const part of parts) {
    const shown = scenes.flatMap((_, i) => (visible[i]!.has(part) ? [i] : []));
    const sums = new Float64Array(C);
    if (shown.length > 0) {
      const without = await layerMeansOfScenes(
        model,
        shown.map((i) => scenes[i]!),
        layer,
        [part],
      );
      shown.forEach((i, j) => {
        for (const n of neurons) sums[n] = sums[n]! + full.means[i * C + n]! - without.means[j * C + n]!;
      });
    }
    drops.set(part, { sums, scenes: shown.length });
    onPart?.(part);
  }
  return neurons.map((n) => {
    let activation = 0;
    for (let i = 0; i < scenes.length; i++) activation += full.means[i * C + n]!;
    activation /= Math.max(1, scenes.length);
    const d: Partial<Record<PartName, PartDrop>> = {};
    let label: PartName | null = null;
    let best = 0;
    for (const part of parts) {
      const { sums, scenes: k } = drops.get(part)!;
      if (k === 0) continue;
      const drop = sums[n]! / k;
      d[part] = { drop, scenes: k };
      if (drop > best) {
        best = drop;
        label = part;
      }
    }
    return { neuron: n, activation, label, drops: d };
  });
}
