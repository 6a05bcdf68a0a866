/**
 * Which ground-truth parts a circuit's concept patches show. A neuron group's concept patches are
 * the top patches of its members, each member (neuron, semantic group) contributing the top
 * patches of that semantic group; the union, each patch once (DESIGN §6: the NGC is the union).
 *
 * A patch (image, x, y, size) SHOWS a set of parts when their visible pixels inside it cover at
 * least `share` of the patch (default 10%). The share of the patch, not of the part: a whole-image
 * patch contains every part of its image, so "contains most of the flowers" would make every
 * whole image of a flowered bee a flower patch, whatever the group is about; what a concept patch
 * is about is what fills it. 10% is about half a flower in a 16-px crop (a flower is 50–80 px),
 * two flowers in a 32-px crop, and a near bee (not its few flowers) in a whole 64-px image.
 */
import type { Circuit } from "../neurflow/light";
import type { PartName } from "./parts";

export const SHOWS_PART_SHARE = 0.1;

/** The visibility masks of one image's parts (size×size, 1 = visible), from `renderScene`. */
export interface ImageParts {
  size: number;
  parts: { name: PartName; mask: Uint8Array }[];
}

/** The union of the named parts' masks of one image (all zero when it has none of them). */
export function unionMask(image: ImageParts, names: readonly PartName[]): Uint8Array {
  const out = new Uint8Array(image.size * image.size);
  for (const p of image.parts) {
    if (!names.includes(p.name)) continue;
    for (let i = 0; i < out.length; i++) if (p.mask[i]) out[i] = 1;
  }
  return out;
}

/** Pixels of `mask` inside the square crop at (x, y) of side `size`. */
export function pixelsInCrop(mask: Uint8Array, imageSize: number, x: number, y: number, size: number): number {
  let n = 0;
  for (let yy = y; yy < Math.min(y + size, imageSize); yy++) {
    for (let xx = x; xx < Math.min(x + size, imageSize); xx++) n += mask[yy * imageSize + xx]!;
  }
  return n;
}

/** Share of the crop covered by the mask. */
export function cropShare(mask: Uint8Array, imageSize: number, x: number, y: number, size: number): number {
  return pixelsInCrop(mask, imageSize, x, y, size) / (size * size);
}

/** The concept patches (patch indices, ascending, each once) of a neuron group of a circuit layer. */
export function conceptPatches(circuit: Circuit, layerIndex: number, groupId: number): number[] {
  const layer = circuit.layers[layerIndex];
  if (!layer) throw new Error(`the circuit has no layer pair ${layerIndex}`);
  const group = layer.neuronGroups.find((g) => g.id === groupId);
  if (!group) throw new Error(`layer "${layer.upper}" has no neuron group ${groupId}`);
  const byNeuron = new Map(layer.targets.map((t) => [t.neuron, t]));
  const set = new Set<number>();
  for (const m of group.members) {
    const t = byNeuron.get(m.neuron);
    if (!t) throw new Error(`neuron ${m.neuron} of group ${groupId} is not a target of layer "${layer.upper}"`);
    t.topPatches.forEach((p, i) => t.semanticGroups[i] === m.semanticGroup && set.add(p));
  }
  return [...set].sort((a, b) => a - b);
}

/** What a set of parts is to the class: the cue, the object itself, or a decoration. */
export interface PartSets {
  cue: readonly PartName[];
  object: readonly PartName[];
  decoration: readonly PartName[];
}

export interface GroupComposition {
  /** Circuit layer pair index; the group's neurons are in its `upper` layer. */
  layerIndex: number;
  layer: string;
  groupId: number;
  /** Member neurons (distinct). */
  neurons: number[];
  /** Concept patches (distinct). */
  patches: number;
  /** Concept patches by crop side in pixels. */
  bySize: Record<string, number>;
  /** Share of the concept patches that show the cue, the object's parts, a decoration (at `share`). */
  cue: number;
  object: number;
  decoration: number;
  /** The same shares at other thresholds, to show how much the verdict depends on the 10%. */
  sensitivity: { share: number; cue: number; object: number; decoration: number }[];
  /** The largest weight of the group's edges to the groups of the layer above (−∞ without edges). */
  parentWeight: number;
}

/**
 * The composition of every neuron group of the circuit's layers from `fromLayer` down (by default
 * all but the first pair, whose "groups" are the class logit's own semantic groups).
 * `images[i]` are the parts of the circuit's image i.
 */
export function groupCompositions(
  circuit: Circuit,
  images: readonly ImageParts[],
  sets: PartSets,
  options: { fromLayer?: number; share?: number; sensitivity?: number[] } = {},
): GroupComposition[] {
  if (images.length !== circuit.images.length)
    throw new Error(`${images.length} part masks for ${circuit.images.length} circuit images`);
  const share = options.share ?? SHOWS_PART_SHARE;
  const thresholds = options.sensitivity ?? [0.05, 0.2];
  const unions = images.map((im) => ({
    size: im.size,
    cue: unionMask(im, sets.cue),
    object: unionMask(im, sets.object),
    decoration: unionMask(im, sets.decoration),
  }));
  // per patch, the share of each set (computed once per patch)
  const shares = new Map<number, { cue: number; object: number; decoration: number }>();
  const shareOf = (p: number) => {
    let s = shares.get(p);
    if (!s) {
      const [img, x, y, size] = circuit.patches[p]!;
      const u = unions[img]!;
      s = {
        cue: cropShare(u.cue, u.size, x, y, size),
        object: cropShare(u.object, u.size, x, y, size),
        decoration: cropShare(u.decoration, u.size, x, y, size),
      };
      shares.set(p, s);
    }
    return s;
  };
  const out: GroupComposition[] = [];
  for (let li = options.fromLayer ?? 1; li < circuit.layers.length; li++) {
    const layer = circuit.layers[li]!;
    for (const g of layer.neuronGroups) {
      const patches = conceptPatches(circuit, li, g.id);
      const bySize: Record<string, number> = {};
      for (const p of patches) {
        const k = String(circuit.patches[p]![3]);
        bySize[k] = (bySize[k] ?? 0) + 1;
      }
      const parentEdges = circuit.layers[li - 1]?.groupEdges.filter((e) => e.child === g.id) ?? [];
      const frac = (t: number, key: "cue" | "object" | "decoration") =>
        patches.filter((p) => shareOf(p)[key] >= t).length / Math.max(1, patches.length);
      out.push({
        layerIndex: li,
        layer: layer.upper,
        groupId: g.id,
        neurons: [...new Set(g.members.map((m) => m.neuron))].sort((a, b) => a - b),
        patches: patches.length,
        bySize,
        cue: frac(share, "cue"),
        object: frac(share, "object"),
        decoration: frac(share, "decoration"),
        sensitivity: thresholds.map((t) => ({
          share: t,
          cue: frac(t, "cue"),
          object: frac(t, "object"),
          decoration: frac(t, "decoration"),
        })),
        parentWeight: Math.max(...parentEdges.map((e) => e.weight)),
      });
    }
  }
  return out;
}
