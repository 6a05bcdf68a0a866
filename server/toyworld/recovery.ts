/**
 * The recovery checks: NeurFlow run on the cue class of a toy-world model must find what was
 * planted (the paper's image-debugging claims, §5.1, and its fidelity claims, Figure 5, on a world
 * whose truth is known). On freshly drawn scenes of the model's own world:
 *
 *   1. some neuron group at a late layer has concept patches dominated by the cue (≥ 70% show it)
 *      and another by the object's own parts (conceptParts.ts says when a patch shows a part);
 *   2. masking the cue group's neurons lowers the class logit on cue-present images far more than
 *      on the same images with the cue left out, and far more than masking as many random neurons
 *      of the same layer (judged on the logit, the quantity NeurFlow attributes: with the cue the
 *      class probability is saturated near 1, so a probability drop measures the softmax's
 *      curvature more than the group; the probabilities are reported beside it);
 *   3. metric M of the cue group separates cue-present from cue-absent images (AUROC);
 *   4. on the control model (trained where the cue is as rare in the class as elsewhere), no group
 *      is dominated by the cue, on the same images;
 *   5. every core neuron of the penultimate layer, labelled by the part whose removal lowers its
 *      activation most, is a class-defining part or the cue, never a decoration;
 *   6. masking all core neurons from the classifier down to a layer drops the class accuracy while
 *      as many random neurons do not; retaining only them keeps it while random neurons do not.
 *
 * The thresholds are fixed here, before any run, and reported with every number.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  buildCircuit,
  type Circuit,
  fidelityOfNeurons,
  type FidelityOfNeuronsResult,
  sampleWithoutReplacement,
  seededRandom,
  mean,
  maskGroups,
  debugImages,
  layerWidth,
  maskedLogits,
  type LayerMask,
  loadModel,
  type ClassifierModel,
  type CircuitProgress,
  tf,
} from "../neurflow";
import { readWorld } from "./check";
import { groupCompositions, SHOWS_PART_SHARE, type GroupComposition, type PartSets } from "./conceptParts";
import { labelNeuronsByParts, type NeuronPartLabel } from "./partLabels";
import type { PartName } from "./parts";
import { decodedScenes, isFar, recoveryScenes, scenesInput } from "./recoveryScenes";
import { CLASS_PARTS, CLASSES, CUE_CLASS, CUE_PART, type ClassName, type WorldOptions } from "./scenes";

/** The thresholds of the claims. */
export const RECOVERY_THRESHOLDS = {
  /** A group is dominated by a part set when at least this share of its concept patches show it. */
  dominated: 0.7,
  /** Groups with fewer concept patches are listed but not judged (a handful of patches is no concept). */
  minPatches: 10,
  /**
   * Masking, judged on the class logit: the drop on cue-present images must be at least this many
   * times the drop on the same images without the cue and the drop under random masking…
   */
  maskingRatio: 2,
  /** …and at least this many logits (the odds divided by e). */
  maskingMinLogitDrop: 1,
  /** Metric M: AUROC of cue-present against cue-absent images. */
  auroc: 0.9,
  /** Fidelity (paper Fig. 5): core masked ≤, random masked ≥, core retained ≥, random retained ≤. */
  maskCoreMax: 0.1,
  maskRandomMin: 0.6,
  retainCoreMin: 0.9,
  retainRandomMax: 0.3,
} as const;

export const DECORATIONS: PartName[] = ["pebbles", "cloud"];
export const DEFAULT_RECOVERY_LAYERS = ["fc", "layer4.1", "layer4.0", "layer3.1"];

export interface RecoveryOptions {
  /** Folder of the model (manifest.json, training.json). */
  model: string;
  /** Folder of the control model (optional). */
  control?: string;
  /** Scenes per set: circuit images of the cue class, cue pairs, label scenes, fidelity scenes per class. */
  perClass: number;
  seed: number;
  tau: number;
  layers?: string[];
  /** Random draws for the random-neuron baselines (default 20: a random set either holds a few decisive channels or not, so few draws give a noisy mean). */
  draws?: number;
  /** A class besides the cue class for the fidelity claims (null: none). Default: the first other class. */
  fidelityClass?: ClassName | null;
  /** Also mask and score the other cue-dominated groups (default true; reported, not judged). */
  otherCueGroups?: boolean;
  /** Folder to write the circuits into (model-class.json, control-class.json), for the viewer or a closer look. */
  circuitsOut?: string;
  /** Attribution worker threads for the circuits (default: the engine's). */
  workers?: number;
  quiet?: boolean;
  /** Overall progress 0..1 and what runs. */
  onProgress?: (fraction: number, message: string) => void;
}

export interface MaskingSide {
  images: number;
  before: number;
  after: number;
  randomAfter: number;
  /** before − after, and before − randomAfter (mean class probability). */
  drop: number;
  randomDrop: number;
  /** The same drops of the mean class logit (probabilities near 1 hide what the logit shows). */
  logitDrop: number;
  randomLogitDrop: number;
}

export interface FidelityCheck {
  class: ClassName;
  tau: number;
  images: number;
  /** Per circuit lower layer (top-down), the class predicted most often when the whole layer is zeroed, and how often. */
  emptyPrediction: { layer: string; class: string; share: number }[];
  /** The random-retain baseline is vacuous when zeroing the penultimate layer predicts this class anyway. */
  retainVacuous: boolean;
  result: FidelityOfNeuronsResult;
  /** Channels of each circuit lower layer (top-down). */
  widths: number[];
  /**
   * Where the claims are judged: the deepest layer whose core neurons are at most half its channels
   * (masking from the classifier down to it). Deeper, the core set covers most of the layer and "as
   * many random neurons" are mostly the same neurons: no contrast.
   */
  judged: {
    layer: string;
    coreNeurons: number;
    width: number;
    maskCore: number;
    maskRandom: number;
    retainCore: number;
    retainRandom: number;
  };
  /**
   * The same four numbers at the judged layer for smaller τ' (derived exactly from the circuit, as
   * in the paper's Figure 5, which plots them against τ): shown, not judged.
   */
  overTau: {
    tau: number;
    coreNeurons: number;
    maskCore: number;
    maskRandom: number;
    retainCore: number;
    retainRandom: number;
  }[];
}

export interface Claim {
  name: string;
  passed: boolean;
  /** False when the claim cannot tell anything on this model (reported, not judged). */
  applicable: boolean;
  detail: string;
}

export interface RecoveryReport {
  model: string;
  world: WorldOptions;
  seed: number;
  perClass: number;
  tau: number;
  layers: string[];
  cue: { class: ClassName; part: PartName };
  thresholds: typeof RECOVERY_THRESHOLDS & { showsPartShare: number };
  circuit: {
    images: number;
    cueImages: number;
    farImages: number;
    seconds: number;
    groupsPerLayer: { layer: string; groups: number }[];
  };
  groups: GroupComposition[];
  cueGroup: GroupComposition | null;
  objectGroup: GroupComposition | null;
  masking: {
    layer: string;
    groupId: number;
    neurons: number[];
    layerWidth: number;
    draws: number;
    present: MaskingSide;
    absent: MaskingSide;
    farPresent: MaskingSide;
    farAbsent: MaskingSide;
    gap: number;
  } | null;
  metricM: { layer: string; groupId: number; present: number; absent: number; auroc: number; farAuroc: number } | null;
  /** The other groups dominated by the cue, measured the same way (not judged: the claims are about the one cue group). */
  otherCueGroups: {
    layer: string;
    groupId: number;
    neurons: number;
    cue: number;
    object: number;
    present: MaskingSide;
    absent: MaskingSide;
    auroc: number;
  }[];
  control: { model: string; seconds: number; groups: GroupComposition[]; mostCueLike: GroupComposition | null } | null;
  labels: { layer: string; scenes: number; neurons: NeuronPartLabel[]; counts: Record<string, number> };
  fidelity: FidelityCheck[];
  claims: Claim[];
  passed: boolean;
  seconds: number;
}

/** Area under the ROC curve of scores of positives against negatives (ties count half). */
export function auroc(positives: readonly number[], negatives: readonly number[]): number {
  if (positives.length === 0 || negatives.length === 0) return NaN;
  let s = 0;
  for (const p of positives) for (const n of negatives) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (positives.length * negatives.length);
}

/**
 * Per image: the class logit before, after masking `neurons` of `layer`, and after masking as many
 * random neurons (mean over draws; with the seed of `maskGroups`, the same random sets).
 */
async function logitsUnderMask(
  model: ClassifierModel,
  input: tf.Tensor4D,
  classIndex: number,
  layer: string,
  neurons: number[],
  width: number,
  draws: number,
  seed: number,
) {
  const logit = async (masks: LayerMask[]) => {
    const p = await maskedLogits(model, input, masks);
    return Array.from({ length: p.logits.length / p.classes }, (_, r) => p.logits[r * p.classes + classIndex]!);
  };
  const before = await logit([]);
  const after = await logit([{ layer, channels: neurons, mode: "mask" }]);
  const random = seededRandom(seed >>> 0);
  const sums = new Array<number>(before.length).fill(0);
  for (let d = 0; d < draws; d++) {
    const r = await logit([{ layer, channels: sampleWithoutReplacement(width, neurons.length, random), mode: "mask" }]);
    r.forEach((v, i) => (sums[i] = sums[i]! + v));
  }
  return { before, after, randomAfter: sums.map((v) => v / draws) };
}

type PerImage = { before: number[]; after: number[]; randomAfter: number[] };

function side(p: PerImage, l: PerImage, keep?: boolean[]): MaskingSide {
  const pick = (xs: number[]) => (keep ? xs.filter((_, i) => keep[i]) : xs);
  const b = mean(pick(p.before));
  const a = mean(pick(p.after));
  const r = mean(pick(p.randomAfter));
  const lb = mean(pick(l.before));
  return {
    images: pick(p.before).length,
    before: b,
    after: a,
    randomAfter: r,
    drop: b - a,
    randomDrop: b - r,
    logitDrop: lb - mean(pick(l.after)),
    randomLogitDrop: lb - mean(pick(l.randomAfter)),
  };
}

const judged = (g: GroupComposition) => g.patches >= RECOVERY_THRESHOLDS.minPatches;

/**
 * The group a user tracing the circuit down from the logit meets first as the concept `key`
 * ("cue" or "object"): among the judged groups dominated by it, those of the highest layer, and
 * of these the one with the strongest edge to the layer above (ties: more neurons, then more
 * patches; edge weights are compared within a layer only, their scale differs between layers);
 * when none is dominated, the one with the largest share. (Two earlier rules were tried and
 * dropped: the largest share, then the group showing the other set least; both picked one-neuron
 * groups whenever the clustering split the concept finely.)
 */
export function specificGroup(
  groups: readonly GroupComposition[],
  key: "cue" | "object",
  exclude?: GroupComposition | null,
): GroupComposition | null {
  const pool = groups.filter((g) => judged(g) && g !== exclude);
  const dominated = pool.filter((g) => g[key] >= RECOVERY_THRESHOLDS.dominated);
  // ranking keys, compared in order (larger wins)
  const rank = (g: GroupComposition) =>
    dominated.length ? [-g.layerIndex, g.parentWeight, g.neurons.length, g.patches] : [g[key], g.patches];
  const better = (a: GroupComposition, b: GroupComposition) => {
    const ra = rank(a);
    const rb = rank(b);
    const i = ra.findIndex((v, j) => v !== rb[j]);
    return i >= 0 && ra[i]! > rb[i]!;
  };
  let best: GroupComposition | null = null;
  for (const g of dominated.length ? dominated : pool) if (!best || better(g, best)) best = g;
  return best;
}

/** Progress through weighted phases, as one monotone fraction. */
function phases(weights: Record<string, number>, report?: (fraction: number, message: string) => void) {
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  const start: Record<string, number> = {};
  let acc = 0;
  for (const [k, w] of Object.entries(weights)) {
    start[k] = acc;
    acc += w;
  }
  return (phase: string, within: number, message: string) =>
    report?.((start[phase]! + weights[phase]! * Math.min(1, Math.max(0, within))) / total, message);
}

async function circuitOf(
  out: { dir?: string; name: string },
  manifestPath: string,
  cls: ClassName,
  images: ReturnType<typeof decodedScenes>["images"],
  layers: string[],
  tau: number,
  workers: number | undefined,
  onProgress: (p: CircuitProgress) => void,
): Promise<Circuit> {
  const circuit = await buildCircuit(
    { manifestPath, images, className: cls, layers, params: { tau } },
    { onProgress, ...(workers !== undefined ? { workers } : {}) },
  );
  if (out.dir) {
    mkdirSync(out.dir, { recursive: true });
    writeFileSync(join(out.dir, `${out.name}.json`), JSON.stringify(circuit));
  }
  return circuit;
}

/** The τ' of the fidelity sweep: a quarter, half, three quarters and all of the circuit's τ. */
export function fidelityTaus(tau: number): number[] {
  return [...new Set([0.25, 0.5, 0.75, 1].map((f) => Math.max(1, Math.round(tau * f))))];
}

/** Class predicted most often when a whole layer is zeroed. */
async function emptyPredictions(
  model: ClassifierModel,
  input: tf.Tensor4D,
  layers: string[],
): Promise<FidelityCheck["emptyPrediction"]> {
  const out: FidelityCheck["emptyPrediction"] = [];
  for (const layer of layers) {
    const p = await maskedLogits(model, input, [{ layer, channels: [], mode: "retain" }]);
    const counts = new Array<number>(p.classes).fill(0);
    const N = p.logits.length / p.classes;
    for (let r = 0; r < N; r++) {
      let best = 0;
      for (let c = 1; c < p.classes; c++) if (p.logits[r * p.classes + c]! > p.logits[r * p.classes + best]!) best = c;
      counts[best]!++;
    }
    const top = counts.indexOf(Math.max(...counts));
    out.push({ layer, class: model.manifest.classes[top]!, share: counts[top]! / Math.max(1, N) });
  }
  return out;
}

async function fidelityCheck(
  circuit: Circuit,
  model: ClassifierModel,
  cls: ClassName,
  perClass: number,
  seed: number,
  world: WorldOptions,
  draws: number,
  onProgress: (fraction: number, message: string) => void,
): Promise<FidelityCheck> {
  const scenes = recoveryScenes("fidelity", cls, perClass, seed, world);
  const input = scenesInput(model, scenes);
  try {
    const classIndex = model.manifest.classes.indexOf(cls);
    const tau = circuit.params.tau;
    const result = await fidelityOfNeurons(circuit, model, input, classIndex, {
      taus: fidelityTaus(tau),
      modes: ["mask", "retain"],
      scopes: ["multi"],
      draws,
      seed,
      onProgress: (p) => onProgress(p.done / p.total, `fidelity of ${cls}'s core neurons: ${p.message}`),
    });
    const lowerLayers = circuit.layers.map((l) => l.lower);
    const emptyPrediction = await emptyPredictions(model, input, lowerLayers);
    const curve = (mode: "mask" | "retain", t = tau) =>
      result.curves.find((c) => c.mode === mode && c.scope === "multi" && c.tau === t)!;
    const countsAt = (t: number) => result.coreCounts.find((c) => c.tau === t)!.counts;
    const widths = lowerLayers.map((l) => layerWidth(model, input, l));
    const counts = countsAt(tau);
    let j = 0;
    for (let i = 0; i < lowerLayers.length; i++) if (counts[i]! <= widths[i]! / 2) j = i;
    return {
      class: cls,
      tau: circuit.params.tau,
      images: scenes.length,
      emptyPrediction,
      // every retain mask zeroes most of the penultimate layer: if an all-zero penultimate layer
      // gives the class, random retaining keeps it too and the contrast means nothing
      retainVacuous: emptyPrediction[0]!.class === cls && emptyPrediction[0]!.share >= 0.5,
      result,
      widths,
      judged: {
        layer: lowerLayers[j]!,
        coreNeurons: counts[j]!,
        width: widths[j]!,
        maskCore: curve("mask").core[j]!,
        maskRandom: curve("mask").baseline[j]!,
        retainCore: curve("retain").core[j]!,
        retainRandom: curve("retain").baseline[j]!,
      },
      overTau: result.coreCounts.map(({ tau: t }) => ({
        tau: t,
        coreNeurons: countsAt(t)[j]!,
        maskCore: curve("mask", t).core[j]!,
        maskRandom: curve("mask", t).baseline[j]!,
        retainCore: curve("retain", t).core[j]!,
        retainRandom: curve("retain", t).baseline[j]!,
      })),
    };
  } finally {
    input.dispose();
  }
}

export async function runRecovery(o: RecoveryOptions): Promise<RecoveryReport> {
  const started = performance.now();
  const T = RECOVERY_THRESHOLDS;
  const layers = o.layers ?? DEFAULT_RECOVERY_LAYERS;
  const draws = o.draws ?? 20;
  if (layers.length < 3)
    throw new Error(
      "the recovery checks need at least three layers (the logit, the penultimate layer and one below it)",
    );
  const world = readWorld(o.model);
  const manifestPath = join(o.model, "manifest.json");
  const cls = CUE_CLASS;
  const fidelityClass = o.fidelityClass === undefined ? CLASSES.find((c) => c !== cls)! : o.fidelityClass;
  const sets: PartSets = { cue: [CUE_PART], object: CLASS_PARTS[cls], decoration: DECORATIONS };
  const progress = phases(
    {
      circuit: 40,
      control: o.control ? 35 : 0,
      evaluations: 10,
      fidelity: 10,
      fidelityCircuit: fidelityClass ? 30 : 0,
      fidelityOther: fidelityClass ? 10 : 0,
    },
    o.onProgress,
  );
  const circuitProgress = (phase: string, label: string) => (p: CircuitProgress) =>
    progress(phase, p.fraction, `${label}: ${p.message}`);

  // 1. the circuit of the cue class on fresh scenes of the model's world
  const circuitScenes = recoveryScenes("circuit", cls, o.perClass, o.seed, world);
  const decoded = decodedScenes(circuitScenes, cls);
  let t0 = performance.now();
  const circuit = await circuitOf(
    { dir: o.circuitsOut, name: `model-${cls}` },
    manifestPath,
    cls,
    decoded.images,
    layers,
    o.tau,
    o.workers,
    circuitProgress("circuit", "circuit"),
  );
  const circuitSeconds = (performance.now() - t0) / 1000;
  const indexOfName = new Map(decoded.images.names.map((n, i) => [n, i]));
  const kept = circuit.images.map((n) => indexOfName.get(n)!);
  const groups = groupCompositions(
    circuit,
    kept.map((i) => decoded.parts[i]!),
    sets,
  );
  const cueGroup = specificGroup(groups, "cue");
  const objectGroup = specificGroup(groups, "object", cueGroup);

  // 4. the control model's circuit on the same images
  let control: RecoveryReport["control"] = null;
  if (o.control) {
    t0 = performance.now();
    const cc = await circuitOf(
      { dir: o.circuitsOut, name: `control-${cls}` },
      join(o.control, "manifest.json"),
      cls,
      decoded.images,
      layers,
      o.tau,
      o.workers,
      circuitProgress("control", "control circuit"),
    );
    const keptC = cc.images.map((n) => indexOfName.get(n)!);
    const cg = groupCompositions(
      cc,
      keptC.map((i) => decoded.parts[i]!),
      sets,
    );
    control = {
      model: o.control,
      seconds: (performance.now() - t0) / 1000,
      groups: cg,
      mostCueLike: specificGroup(cg, "cue"),
    };
  }

  const model = await loadModel(manifestPath);
  try {
    // 2 and 3. masking and metric M of the cue group on cue pairs
    progress("evaluations", 0, "masking the cue groups");
    const pairs = recoveryScenes("pairs", cls, o.perClass, o.seed, world);
    const far = pairs.map(isFar);
    let masking: RecoveryReport["masking"] = null;
    const otherCueGroupsOut: RecoveryReport["otherCueGroups"] = [];
    let metricM: RecoveryReport["metricM"] = null;
    const present = scenesInput(model, pairs);
    const absent = scenesInput(model, pairs, [CUE_PART]);
    const candidates = groups.filter(
      (g) => g === cueGroup || (o.otherCueGroups !== false && judged(g) && g.cue >= T.dominated),
    );
    try {
      // metric M of every group of a layer, once per layer and image set: layer/set → group → per image
      const mCache = new Map<string, Map<number, number[]>>();
      const mOf = async (g: GroupComposition, which: "present" | "absent") => {
        const key = `${g.layerIndex}/${which}`;
        let byGroup = mCache.get(key);
        if (!byGroup) {
          const d = await debugImages(circuit, model, which === "present" ? present : absent, {
            layerIndex: g.layerIndex,
            topCrops: 0,
          });
          byGroup = new Map();
          for (const [i, im] of d.images.entries()) {
            for (const x of im.groups) {
              const list = byGroup.get(x.groupId) ?? new Array<number>(d.images.length).fill(NaN);
              list[i] = x.score;
              byGroup.set(x.groupId, list);
            }
          }
          mCache.set(key, byGroup);
        }
        return byGroup.get(g.groupId)!;
      };
      for (const [gi, g] of candidates.entries()) {
        progress("evaluations", (0.6 * gi) / candidates.length, `masking ${g.layer} group ${g.groupId}`);
        const opts = { layerIndex: g.layerIndex, groups: [g.groupId], draws, seed: o.seed, topPatches: 0 };
        const mp = await maskGroups(circuit, model, present, opts);
        const ma = await maskGroups(circuit, model, absent, opts);
        const ci = circuit.class.index;
        const lp = await logitsUnderMask(model, present, ci, mp.layer, mp.neurons, mp.layerWidth, draws, o.seed);
        const la = await logitsUnderMask(model, absent, ci, ma.layer, ma.neurons, ma.layerWidth, draws, o.seed);
        const sp = side(mp, lp);
        const sa = side(ma, la);
        const mPresent = await mOf(g, "present");
        const mAbsent = await mOf(g, "absent");
        const a = auroc(mPresent, mAbsent);
        if (g === cueGroup) {
          masking = {
            layer: mp.layer,
            groupId: g.groupId,
            neurons: mp.neurons,
            layerWidth: mp.layerWidth,
            draws,
            present: sp,
            absent: sa,
            farPresent: side(mp, lp, far),
            farAbsent: side(ma, la, far),
            gap: sp.drop - sa.drop,
          };
          metricM = {
            layer: g.layer,
            groupId: g.groupId,
            present: mean(mPresent),
            absent: mean(mAbsent),
            auroc: a,
            farAuroc: auroc(
              mPresent.filter((_, i) => far[i]),
              mAbsent.filter((_, i) => far[i]),
            ),
          };
        } else {
          otherCueGroupsOut.push({
            layer: g.layer,
            groupId: g.groupId,
            neurons: g.neurons.length,
            cue: g.cue,
            object: g.object,
            present: sp,
            absent: sa,
            auroc: a,
          });
        }
      }
    } finally {
      present.dispose();
      absent.dispose();
    }

    // 5. leave-one-part-out labels of the penultimate layer's core neurons
    progress("evaluations", 0.7, "labelling the penultimate layer's core neurons");
    const labelScenes = recoveryScenes("labels", cls, o.perClass, o.seed, world);
    const penultimate = circuit.layers[0]!;
    const coreNeurons = [...penultimate.targets[0]!.coreNeurons].sort((a, b) => a - b);
    const labelParts: PartName[] = [...CLASS_PARTS[cls], CUE_PART, ...DECORATIONS];
    const neurons = await labelNeuronsByParts(model, penultimate.lower, coreNeurons, labelScenes, labelParts);
    const counts: Record<string, number> = {};
    for (const n of neurons) counts[n.label ?? "none"] = (counts[n.label ?? "none"] ?? 0) + 1;

    // 6. fidelity of the core neurons, on the cue class and on another class
    const fidelity: FidelityCheck[] = [
      await fidelityCheck(circuit, model, cls, o.perClass, o.seed, world, draws, (f, m) => progress("fidelity", f, m)),
    ];
    if (fidelityClass) {
      const scenes = recoveryScenes("circuit", fidelityClass, o.perClass, o.seed, world);
      const other = await circuitOf(
        { dir: o.circuitsOut, name: `model-${fidelityClass}` },
        manifestPath,
        fidelityClass,
        decodedScenes(scenes, fidelityClass).images,
        layers,
        o.tau,
        o.workers,
        circuitProgress("fidelityCircuit", `${fidelityClass} circuit`),
      );
      fidelity.push(
        await fidelityCheck(other, model, fidelityClass, o.perClass, o.seed, world, draws, (f, m) =>
          progress("fidelityOther", f, m),
        ),
      );
    }
    progress("fidelityOther", 1, "done");

    const claims = judge({ groups, cueGroup, objectGroup, masking, metricM, control, neurons, fidelity, sets });
    return {
      model: o.model,
      world,
      seed: o.seed,
      perClass: o.perClass,
      tau: o.tau,
      layers,
      cue: { class: cls, part: CUE_PART },
      thresholds: { ...T, showsPartShare: SHOWS_PART_SHARE },
      circuit: {
        images: circuit.images.length,
        cueImages: kept.filter((i) => circuitScenes[i]!.cue).length,
        farImages: kept.filter((i) => isFar(circuitScenes[i]!)).length,
        seconds: circuitSeconds,
        groupsPerLayer: circuit.layers.map((l) => ({ layer: l.upper, groups: l.neuronGroups.length })),
      },
      groups,
      cueGroup,
      objectGroup,
      masking,
      metricM,
      otherCueGroups: otherCueGroupsOut,
      control,
      labels: { layer: penultimate.lower, scenes: labelScenes.length, neurons, counts },
      fidelity,
      claims,
      passed: claims.every((c) => c.passed || !c.applicable),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    model.dispose();
  }
}

const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
const f3 = (v: number) => v.toFixed(3);
const f2 = (v: number) => v.toFixed(2);
const groupName = (g: GroupComposition) =>
  `group ${g.groupId} of ${g.layer} (${g.neurons.length} neurons, ${g.patches} concept patches)`;

function judge(r: {
  groups: GroupComposition[];
  cueGroup: GroupComposition | null;
  objectGroup: GroupComposition | null;
  masking: RecoveryReport["masking"];
  metricM: RecoveryReport["metricM"];
  control: RecoveryReport["control"];
  neurons: NeuronPartLabel[];
  fidelity: FidelityCheck[];
  sets: PartSets;
}): Claim[] {
  const T = RECOVERY_THRESHOLDS;
  const claims: Claim[] = [];
  const cue = r.cueGroup;
  claims.push({
    name: `a late-layer group is dominated by the cue (≥ ${pct(T.dominated)} of its concept patches show ${CUE_PART})`,
    passed: !!cue && cue.cue >= T.dominated,
    applicable: true,
    detail: cue
      ? `${groupName(cue)}: ${pct(cue.cue)} show ${CUE_PART}, ${pct(cue.object)} the ${CUE_CLASS}`
      : "no group with enough concept patches",
  });
  const obj = r.objectGroup;
  claims.push({
    name: `another group is dominated by the ${CUE_CLASS}'s own parts (≥ ${pct(T.dominated)})`,
    passed: !!obj && obj.object >= T.dominated,
    applicable: true,
    detail: obj
      ? `${groupName(obj)}: ${pct(obj.object)} show ${r.sets.object.join("/")}, ${pct(obj.cue)} ${CUE_PART}`
      : "no other group",
  });
  const m = r.masking;
  claims.push({
    name: `masking the cue group lowers the ${CUE_CLASS} logit on cue-present images far more than on cue-absent ones and than random neurons`,
    passed:
      !!m &&
      m.present.logitDrop >= T.maskingMinLogitDrop &&
      m.present.logitDrop >= T.maskingRatio * Math.max(m.absent.logitDrop, 0) &&
      m.present.logitDrop >= T.maskingRatio * Math.max(m.present.randomLogitDrop, 0),
    applicable: true,
    detail: m
      ? `mean logit drop ${f2(m.present.logitDrop)} with the cue, ${f2(m.absent.logitDrop)} without; ${m.neurons.length} random neurons of ${m.layer}: ${f2(m.present.randomLogitDrop)} (needs ≥ ${T.maskingRatio}× both and ≥ ${T.maskingMinLogitDrop}); P(${CUE_CLASS}) drop ${f3(m.present.drop)} with the cue (from ${f3(m.present.before)}), ${f3(m.absent.drop)} without (from ${f3(m.absent.before)})`
      : "no cue group to mask",
  });
  const mm = r.metricM;
  claims.push({
    name: `metric M of the cue group separates cue-present from cue-absent images (AUROC ≥ ${T.auroc})`,
    passed: !!mm && mm.auroc >= T.auroc,
    applicable: true,
    detail: mm
      ? `AUROC ${f3(mm.auroc)} (far bees ${f3(mm.farAuroc)}); mean M ${f3(mm.present)} with the cue, ${f3(mm.absent)} without`
      : "no cue group",
  });
  if (r.control) {
    const c = r.control.mostCueLike;
    claims.push({
      name: `on the control model no group is dominated by the cue (< ${pct(T.dominated)})`,
      passed: !r.control.groups.some((g) => judged(g) && g.cue >= T.dominated),
      applicable: true,
      detail: c
        ? `most cue-like: ${groupName(c)}, ${pct(c.cue)} show ${CUE_PART}`
        : "no group with enough concept patches",
    });
  }
  const bad = r.neurons.filter((n) => n.label && r.sets.decoration.includes(n.label));
  const countText = Object.entries(
    r.neurons.reduce<Record<string, number>>(
      (acc, n) => ((acc[n.label ?? "none"] = (acc[n.label ?? "none"] ?? 0) + 1), acc),
      {},
    ),
  )
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  claims.push({
    name: "every core neuron of the penultimate layer is labelled by a class-defining part or the cue, never a decoration",
    passed: bad.length === 0,
    applicable: true,
    detail: `${r.neurons.length} neurons: ${countText}${bad.length ? `; decorations: ${bad.map((n) => `${n.neuron} (${n.label})`).join(", ")}` : ""}`,
  });
  for (const fc of r.fidelity) {
    const a = fc.judged;
    claims.push({
      name: `${fc.class}: masking its core neurons down to ${a.layer} drops accuracy to ≤ ${T.maskCoreMax}, random ≥ ${T.maskRandomMin}`,
      passed: a.maskCore <= T.maskCoreMax && a.maskRandom >= T.maskRandomMin,
      applicable: true,
      detail: `core ${f3(a.maskCore)}, random ${f3(a.maskRandom)} (τ ${fc.tau}: ${a.coreNeurons} of ${a.width} neurons at ${a.layer}; ${fc.images} images)`,
    });
    claims.push({
      name: `${fc.class}: retaining only its core neurons down to ${a.layer} keeps accuracy ≥ ${T.retainCoreMin}, random ≤ ${T.retainRandomMax}`,
      passed: a.retainCore >= T.retainCoreMin && a.retainRandom <= T.retainRandomMax,
      // zeroing the layers gives the class anyway: random retaining cannot fail, nor this claim tell anything
      applicable: !fc.retainVacuous,
      detail: `core ${f3(a.retainCore)}, random ${f3(a.retainRandom)}${fc.retainVacuous ? ` (vacuous: an all-zero ${fc.emptyPrediction[0]!.layer} predicts ${fc.class} anyway)` : ""}`,
    });
  }
  return claims;
}
