/**
 * Parity of a circuit with a reference run of the authors' implementation (the JSON their code
 * produces through the reference harness: per layer, per target: topPatches, topActivations,
 * semanticLabels, igPerPatch, coreNeurons, edgeWeights; per layer: neuronGroups.assignment).
 * Patches are compared by (image name, x, y, size), never by position in a list.
 *
 * Figures (means over targets unless said): target-set Jaccard, top-patch overlap, core-neuron
 * Jaccard (and its minimum), importance Spearman, largest edge-weight difference, semantic-group
 * ARI, neuron-group ARI. Thresholds are the engine's parity criteria.
 */
import type { Circuit } from "./circuitFormat";
import { adjustedRandScore as adjustedRandIndex, spearman } from "./clustering";

export interface ReferenceTarget {
  topPatches: number[];
  topActivations?: number[];
  semanticLabels: number[];
  igPerPatch: number[][];
  coreNeurons: number[];
  edgeWeights: Record<string, Record<string, number>>;
}

export interface ReferenceRun {
  images: (string | { name?: string; file?: string })[];
  patches: [number, number, number, number][];
  layers: {
    upper: string;
    lower: string;
    targets: Record<string, ReferenceTarget>;
    neuronGroups: { count: number; assignment: Record<string, Record<string, number>> };
  }[];
}

export interface ParityFigures {
  targetJaccard: number;
  topOverlap: number;
  /** Targets whose top-patch sets differ. */
  topMismatches: number;
  coreJaccard: number;
  coreJaccardMin: number;
  importanceSpearman: number;
  edgeWeightMaxDiff: number;
  semanticAri: number;
  neuronGroupAri: number;
  perLayer: {
    upper: string;
    lower: string;
    targets: number;
    targetJaccard: number;
    coreJaccard: number;
    neuronGroupAri: number;
  }[];
  missingLayers: string[];
}

export const PARITY_THRESHOLDS = {
  targetJaccard: 0.95,
  topOverlap: 0.98,
  coreJaccard: 0.95,
  coreJaccardMin: 0.8,
  importanceSpearman: 0.99,
  edgeWeightMaxDiff: 1e-2,
  semanticAri: 0.95,
  neuronGroupAri: 0.95,
} as const;

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);

function patchKeys(images: ReferenceRun["images"] | string[], patches: readonly (readonly number[])[]): string[] {
  const names = images.map((i) => (typeof i === "string" ? i : (i.name ?? i.file ?? "")).split("/").pop()!);
  return patches.map((p) => `${names[p[0]!]}|${p[1]}|${p[2]}|${p[3]}`);
}

export function compareWithReference(ours: Circuit, ref: ReferenceRun): ParityFigures {
  const ok = patchKeys(ours.images, ours.patches);
  const rk = patchKeys(ref.images, ref.patches);
  const top: number[] = [];
  const jac: number[] = [];
  const imp: number[] = [];
  const w: number[] = [];
  const ari: number[] = [];
  const gari: number[] = [];
  const tjac: number[] = [];
  const perLayer: ParityFigures["perLayer"] = [];
  const missingLayers: string[] = [];
  let topMismatches = 0;
  for (const rl of ref.layers) {
    const ol = ours.layers.find((l) => l.upper === rl.upper && l.lower === rl.lower);
    if (!ol) {
      missingLayers.push(`${rl.upper}←${rl.lower}`);
      continue;
    }
    const ot = new Map(ol.targets.map((t) => [t.neuron, t]));
    const rt = new Map(Object.entries(rl.targets).map(([n, t]) => [Number(n), t]));
    const union = new Set([...ot.keys(), ...rt.keys()]);
    const common = [...ot.keys()].filter((n) => rt.has(n)).sort((a, b) => a - b);
    const tj = common.length / Math.max(1, union.size);
    tjac.push(tj);
    const layerJac: number[] = [];
    const labMap = new Map<string, number>(); // "target:ourGroup" -> reference label
    for (const n of common) {
      const o = ot.get(n)!;
      const r = rt.get(n)!;
      const rtop = r.topPatches.map((i) => rk[i]!);
      const otop = o.topPatches.map((i) => ok[i]!);
      const oset = new Set(otop);
      const overlap = rtop.filter((p) => oset.has(p)).length / rtop.length;
      top.push(overlap);
      if (overlap < 1) topMismatches++;
      const rc = new Set(r.coreNeurons);
      const oc = new Set(o.coreNeurons);
      const inter = [...rc].filter((c) => oc.has(c)).length;
      const j = inter / new Set([...rc, ...oc]).size;
      jac.push(j);
      layerJac.push(j);
      const channels = r.igPerPatch[0]!.length;
      const rimp = Array.from({ length: channels }, (_, c) => mean(r.igPerPatch.map((row) => Math.abs(row[c]!))));
      if (o.importance.length === channels) imp.push(spearman(rimp, o.importance));
      const rlab = new Map(rtop.map((p, i) => [p, r.semanticLabels[i]!]));
      const olab = new Map(otop.map((p, i) => [p, o.semanticGroups[i]!]));
      const shared = rtop.filter((p) => olab.has(p));
      if (shared.length > 2)
        ari.push(
          adjustedRandIndex(
            shared.map((p) => rlab.get(p)!),
            shared.map((p) => olab.get(p)!),
          ),
        );
      for (const g of new Set(olab.values())) {
        const votes = new Map<number, number>();
        for (const p of shared) if (olab.get(p) === g) votes.set(rlab.get(p)!, (votes.get(rlab.get(p)!) ?? 0) + 1);
        if (votes.size) {
          // the reference label with most votes; first seen wins ties (as the reference script's max over a dict)
          let best = -1;
          let bestVotes = -1;
          for (const [lab, v] of votes) if (v > bestVotes) [best, bestVotes] = [lab, v];
          labMap.set(`${n}:${g}`, best);
        }
      }
      const rw: number[] = [];
      const ow: number[] = [];
      for (const e of o.edges) {
        const lab = labMap.get(`${n}:${e.semanticGroup}`);
        if (lab === undefined) continue;
        const d = r.edgeWeights[String(lab)] ?? {};
        const rv = d[String(e.neuron)];
        if (rv !== undefined) {
          rw.push(rv);
          ow.push(e.weight);
        }
      }
      if (rw.length >= 3) w.push(Math.max(...rw.map((v, i) => Math.abs(v - ow[i]!))));
    }
    const ra = rl.neuronGroups.assignment;
    const og = new Map<string, number>();
    for (const g of ol.neuronGroups) {
      for (const m of g.members) {
        const lab = labMap.get(`${m.neuron}:${m.semanticGroup}`);
        if (lab !== undefined) og.set(`${m.neuron}:${lab}`, g.id);
      }
    }
    const items: [string, string][] = [];
    for (const [n, d] of Object.entries(ra))
      for (const l of Object.keys(d)) if (og.has(`${n}:${l}`)) items.push([n, l]);
    let layerGari = Number.NaN;
    if (items.length > 2) {
      layerGari = adjustedRandIndex(
        items.map(([n, l]) => ra[n]![l]!),
        items.map(([n, l]) => og.get(`${n}:${l}`)!),
      );
      gari.push(layerGari);
    }
    perLayer.push({
      upper: rl.upper,
      lower: rl.lower,
      targets: rt.size,
      targetJaccard: tj,
      coreJaccard: mean(layerJac),
      neuronGroupAri: layerGari,
    });
  }
  return {
    targetJaccard: mean(tjac),
    topOverlap: mean(top),
    topMismatches,
    coreJaccard: mean(jac),
    coreJaccardMin: jac.length ? Math.min(...jac) : Number.NaN,
    importanceSpearman: mean(imp),
    edgeWeightMaxDiff: w.length ? Math.max(...w) : Number.NaN,
    semanticAri: mean(ari),
    neuronGroupAri: mean(gari),
    perLayer,
    missingLayers,
  };
}

/** Names of the criteria a comparison fails (empty when parity holds). */
export function parityFailures(f: ParityFigures): string[] {
  const t = PARITY_THRESHOLDS;
  const bad: string[] = [];
  if (!(f.targetJaccard >= t.targetJaccard)) bad.push("targetJaccard");
  if (!(f.topOverlap >= t.topOverlap)) bad.push("topOverlap");
  if (!(f.coreJaccard >= t.coreJaccard)) bad.push("coreJaccard");
  if (!(f.coreJaccardMin >= t.coreJaccardMin)) bad.push("coreJaccardMin");
  if (!(f.importanceSpearman >= t.importanceSpearman)) bad.push("importanceSpearman");
  if (!(f.edgeWeightMaxDiff <= t.edgeWeightMaxDiff)) bad.push("edgeWeightMaxDiff");
  if (!(f.semanticAri >= t.semanticAri)) bad.push("semanticAri");
  if (!(f.neuronGroupAri >= t.neuronGroupAri)) bad.push("neuronGroupAri");
  return [...bad, ...f.missingLayers.map((l) => `missing layer ${l}`)];
}

export function formatParity(f: ParityFigures): string {
  const n = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : "nan");
  return (
    `targets J=${n(f.targetJaccard)} top=${n(f.topOverlap)} (${f.topMismatches} differ) core J=${n(f.coreJaccard)} (min ${n(f.coreJaccardMin, 2)}) ` +
    `importance ρ=${n(f.importanceSpearman, 4)} edge Δmax=${f.edgeWeightMaxDiff.toExponential(2)} semantic ARI=${n(f.semanticAri)} group ARI=${n(f.neuronGroupAri)}`
  );
}
