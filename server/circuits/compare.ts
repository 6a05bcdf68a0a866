/**
 * Matching the neuron groups of two circuits (two classes of one model, or one class at two τ) by
 * their member neurons: within each layer name present in both, pairs are taken greedily by the
 * Jaccard index of their neuron sets (highest first, each group used once), down to MIN_JACCARD.
 * Unmatched groups are specific to their circuit.
 */
import type { CircuitGraph } from "~/lib/circuits/viewTypes";

export const MIN_JACCARD = 0.34;

export interface GroupMatch {
  a: number;
  b: number;
  layer: string;
  jaccard: number;
  sharedNeurons: number[];
}

export interface Comparison {
  matches: GroupMatch[];
  onlyA: number[];
  onlyB: number[];
  /** Layer names the two circuits share (groups of other layers cannot match). */
  sharedLayers: string[];
}

export function compareGraphs(a: CircuitGraph, b: CircuitGraph, minJaccard = MIN_JACCARD): Comparison {
  const neurons = (g: CircuitGraph["groups"][number]) => new Set(g.members.map((m) => m.neuron));
  const layerOf = (graph: CircuitGraph, g: CircuitGraph["groups"][number]) => graph.circuit.layers[g.layer]!;
  const shared = a.circuit.layers.filter((l) => b.circuit.layers.includes(l));
  const candidates: GroupMatch[] = [];
  for (const ga of a.groups) {
    const la = layerOf(a, ga);
    if (!shared.includes(la)) continue;
    const na = neurons(ga);
    for (const gb of b.groups) {
      if (layerOf(b, gb) !== la) continue;
      const nb = neurons(gb);
      const inter = [...na].filter((n) => nb.has(n)).sort((x, y) => x - y);
      const j = inter.length / (na.size + nb.size - inter.length || 1);
      if (j >= minJaccard) candidates.push({ a: ga.id, b: gb.id, layer: la, jaccard: j, sharedNeurons: inter });
    }
  }
  candidates.sort((x, y) => y.jaccard - x.jaccard || x.a - y.a || x.b - y.b);
  const usedA = new Set<number>();
  const usedB = new Set<number>();
  const matches: GroupMatch[] = [];
  for (const c of candidates) {
    if (usedA.has(c.a) || usedB.has(c.b)) continue;
    usedA.add(c.a);
    usedB.add(c.b);
    matches.push(c);
  }
  return {
    matches,
    onlyA: a.groups.filter((g) => !usedA.has(g.id)).map((g) => g.id),
    onlyB: b.groups.filter((g) => !usedB.has(g.id)).map((g) => g.id),
    sharedLayers: shared,
  };
}
