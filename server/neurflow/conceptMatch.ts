/**
 * Concept match of two circuits (docs/viewer.md, "Compare"): their neuron groups are matched by
 * what they see, not by neuron index, so circuits of different models (or of two classes of one
 * model) can be compared. Every group's concept patches (its NGC, the top patches by activation /
 * reference) of both circuits form one probe set; every probe patch is run through both models, and
 * each group's metric M (paper §5.1) on every probe patch is its **response profile**. Two groups
 * match as strongly as their profiles agree: the Spearman rank correlation of their M over the
 * probe set. A group whose best match in the other circuit stays below `minStrength` sees
 * something the other circuit has no group for: it is present in its circuit, absent in the other.
 * The groups of the first layer pair (the class logit's own semantic groups) are matched only with
 * each other, and the neuron groups of hidden layers only with hidden-layer groups (of any layer:
 * two models need not build a concept at the same depth).
 *
 * Crops of one circuit's images are cut at the other model's input size (boxes scaled) and
 * normalised by that model's own preprocessing. Deterministic: no sampling.
 */
import { throwIfAborted } from "./abort";
import { computeActivations } from "./activations";
import type { Circuit } from "./circuitFormat";
import { conceptPatchesOf } from "./conceptPatches";
import type { EvaluationProgress } from "./evaluations/progress";
import { loadClassImages } from "./images";
import { groupReferences, metricM } from "./metricM";
import type { ClassifierModel } from "./model/loadModel";
import type { Patch } from "./patches";
import type { DecodedImages } from "./runTypes";
import { tf } from "./tf";

export const CONCEPT_MATCH_DEFAULTS = {
  /** Concept patches per group put into the probe set. */
  patchesPerGroup: 8,
  /** Rank correlation at or above which two groups see the same concept. */
  minStrength: 0.5,
} as const;

export interface ConceptMatchSide {
  circuit: Circuit;
  model: ClassifierModel;
  /** The circuit's images in its order: file paths, or decoded pixels (any size: resized per model). */
  images: string[] | DecodedImages;
}

export interface ConceptMatchOptions {
  patchesPerGroup?: number;
  minStrength?: number;
  batchSize?: number;
  onProgress?: (p: EvaluationProgress) => void;
  signal?: AbortSignal;
}

export interface ConceptMatchGroup {
  pairIndex: number;
  layer: string;
  groupId: number;
  /** Indices into `probe` of the group's own concept patches. */
  probePatches: number[];
  /** Best match in the other circuit: index into the other side's groups, and its strength. */
  best: { group: number; strength: number } | null;
  /** Whether the best match reaches `minStrength` (the concept is present in the other circuit). */
  matched: boolean;
}

export interface ConceptMatchResult {
  kind: "conceptMatch";
  method: "metricMProfile";
  params: { patchesPerGroup: number; minStrength: number; probePatches: number };
  /** The probe set: concept patches of A's groups, then B's. `box` is in its own circuit's model pixels. */
  probe: { side: "a" | "b"; patch: number; image: string; box: [number, number, number, number] }[];
  a: ConceptMatchGroup[];
  b: ConceptMatchGroup[];
  /**
   * strength[i][j]: Spearman correlation of A's group i and B's group j profiles (0 for a flat
   * profile); null where the two are not compared (a logit group and a hidden-layer group).
   */
  strength: (number | null)[][];
  /** Each group's metric M on every probe patch (the response profiles), 4 significant digits. */
  profiles: { a: number[][]; b: number[][] };
  seconds: number;
}

/** Average ranks (ties share their mean rank), 0-based. */
function ranks(xs: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: xs.length }, (_, i) => i).sort((i, j) => xs[i]! - xs[j]!);
  const r = new Float64Array(xs.length);
  for (let s = 0; s < idx.length; ) {
    let e = s + 1;
    while (e < idx.length && xs[idx[e]!]! === xs[idx[s]!]!) e++;
    const mean = (s + e - 1) / 2;
    for (let k = s; k < e; k++) r[idx[k]!] = mean;
    s = e;
  }
  return r;
}

/** Spearman's rank correlation; 0 when either side is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new Error(`spearman: lengths differ (${x.length} vs ${y.length})`);
  const rx = ranks(x);
  const ry = ranks(y);
  const n = rx.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = rx[i]! - mx;
    const dy = ry[i]! - mx;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}

interface SideGroups {
  refs: { pairIndex: number; layer: string; groupId: number; neurons: number[]; references: number[] }[];
}

function groupsOf(circuit: Circuit): SideGroups {
  const refs: SideGroups["refs"] = [];
  circuit.layers.forEach((layer, p) => {
    for (const r of groupReferences(circuit, p))
      refs.push({ pairIndex: p, layer: layer.upper, groupId: r.groupId, neurons: r.neurons, references: r.references });
  });
  return { refs };
}

/** M of every group of `side` on every probe patch: [group][probe]. */
async function profiles(
  side: ConceptMatchSide,
  groups: SideGroups,
  sources: { images: string[] | DecodedImages; inputSize: number; boxes: [number, number, number, number][] }[],
  batchSize: number,
  step: (message: string) => void,
  signal?: AbortSignal,
): Promise<Float64Array[]> {
  const model = side.model;
  const S = model.manifest.input.size;
  const tensors = [...new Set(groups.refs.map((g) => model.layerTensor(side.circuit.layers[g.pairIndex]!.upper)))];
  const total = sources.reduce((a, s) => a + s.boxes.length, 0);
  const out = groups.refs.map(() => new Float64Array(total));
  let offset = 0;
  for (const src of sources) {
    throwIfAborted(signal);
    if (src.boxes.length === 0) continue;
    const loaded = await loadClassImages(src.images, S);
    const images = tf.tidy(() => model.preprocess(tf.tensor4d(loaded.pixels, [loaded.names.length, S, S, 3])));
    try {
      const scale = S / src.inputSize;
      const patches: Patch[] = src.boxes.map(([img, x, y, size]) => {
        const s = Math.max(1, Math.min(S, Math.round(size * scale)));
        const px = Math.max(0, Math.min(S - s, Math.round(x * scale)));
        const py = Math.max(0, Math.min(S - s, Math.round(y * scale)));
        return [img, px, py, s];
      });
      const acts = await computeActivations(model.graph, images, patches, tensors, batchSize, undefined, () =>
        throwIfAborted(signal),
      );
      groups.refs.forEach((g, gi) => {
        const a = acts[tensors.indexOf(model.layerTensor(side.circuit.layers[g.pairIndex]!.upper))]!;
        for (let r = 0; r < patches.length; r++)
          out[gi]![offset + r] = metricM(a.means.subarray(r * a.channels, (r + 1) * a.channels), g);
      });
    } finally {
      images.dispose();
    }
    offset += src.boxes.length;
    step(`${side.circuit.model.name}: metric M of ${groups.refs.length} groups on ${src.boxes.length} patches`);
  }
  return out;
}

const round = (xs: Float64Array) => Array.from(xs, (x) => Number(x.toPrecision(4)));

export async function conceptMatch(
  a: ConceptMatchSide,
  b: ConceptMatchSide,
  options: ConceptMatchOptions = {},
): Promise<ConceptMatchResult> {
  const started = performance.now();
  const perGroup = options.patchesPerGroup ?? CONCEPT_MATCH_DEFAULTS.patchesPerGroup;
  const minStrength = options.minStrength ?? CONCEPT_MATCH_DEFAULTS.minStrength;
  if (!(Number.isInteger(perGroup) && perGroup >= 1))
    throw new Error(`patchesPerGroup must be a positive integer, got ${perGroup}`);
  if (!(minStrength >= -1 && minStrength <= 1)) throw new Error(`minStrength must be in [-1, 1], got ${minStrength}`);
  for (const [name, s] of [
    ["A", a],
    ["B", b],
  ] as const) {
    const n = Array.isArray(s.images) ? s.images.length : s.images.names.length;
    if (n !== s.circuit.images.length)
      throw new Error(`circuit ${name}: ${n} images given for its ${s.circuit.images.length} images`);
  }
  const ga = groupsOf(a.circuit);
  const gb = groupsOf(b.circuit);
  if (ga.refs.length === 0 || gb.refs.length === 0) throw new Error("both circuits need neuron groups to be matched");

  // the probe set: each group's concept patches, A's then B's (each patch once per side)
  const probe: ConceptMatchResult["probe"] = [];
  const own = (side: "a" | "b", circuit: Circuit, groups: SideGroups) => {
    const at = new Map<number, number>();
    return groups.refs.map((g) =>
      conceptPatchesOf(circuit, g.pairIndex, g.groupId, perGroup).map((c) => {
        let i = at.get(c.patch);
        if (i == null) {
          i = probe.length;
          at.set(c.patch, i);
          probe.push({ side, patch: c.patch, image: c.image, box: c.box });
        }
        return i;
      }),
    );
  };
  const ownA = own("a", a.circuit, ga);
  const ownB = own("b", b.circuit, gb);
  const boxes = (side: "a" | "b") => probe.filter((p) => p.side === side).map((p) => p.box);
  const sources = [
    { images: a.images, inputSize: a.circuit.model.inputSize, boxes: boxes("a") },
    { images: b.images, inputSize: b.circuit.model.inputSize, boxes: boxes("b") },
  ];
  let done = 0;
  const total = 5;
  const step = (message: string) => options.onProgress?.({ done: ++done, total, message });
  const batch = options.batchSize ?? 64;
  const pa = await profiles(a, ga, sources, batch, step, options.signal);
  const pb = await profiles(b, gb, sources, batch, step, options.signal);
  throwIfAborted(options.signal);
  const isLogit = (g: SideGroups["refs"][number]) => g.pairIndex === 0;
  const strength = pa.map((x, i) =>
    pb.map((y, j) => (isLogit(ga.refs[i]!) === isLogit(gb.refs[j]!) ? spearman(x, y) : null)),
  );
  const best = (row: (number | null)[]) =>
    row.reduce<{ group: number; strength: number } | null>(
      (acc, s, j) => (s != null && (acc == null || s > acc.strength) ? { group: j, strength: s } : acc),
      null,
    );
  const describe = (groups: SideGroups, ownPatches: number[][], rows: (number | null)[][]): ConceptMatchGroup[] =>
    groups.refs.map((g, i) => {
      const bm = best(rows[i]!);
      return {
        pairIndex: g.pairIndex,
        layer: g.layer,
        groupId: g.groupId,
        probePatches: ownPatches[i]!,
        best: bm,
        matched: bm != null && bm.strength >= minStrength,
      };
    });
  const transposed = gb.refs.map((_, j) => strength.map((row) => row[j] ?? null));
  step("matched");
  return {
    kind: "conceptMatch",
    method: "metricMProfile",
    params: { patchesPerGroup: perGroup, minStrength, probePatches: probe.length },
    probe,
    a: describe(ga, ownA, strength),
    b: describe(gb, ownB, transposed),
    strength,
    profiles: { a: pa.map(round), b: pb.map(round) },
    seconds: (performance.now() - started) / 1000,
  };
}
