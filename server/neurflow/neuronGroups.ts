/**
 * Neuron groups. Every (target, semantic group) pair of a layer gets a concept vector — the mean
 * lower-layer representation of that semantic group's patches — and all of them are clustered
 * again (Ward, silhouette over 2..min(n−1, maxGroups)). Neurons whose semantic groups fall in the
 * same cluster form a neuron group; its concept (NGC) is the union of those patches.
 *
 * Group edges: W(child, parent) = Σ of the edges (t, s) → c with (t, s) a member of the parent
 * group and c a neuron of the child group (a group one layer down). A core neuron whose semantic
 * groups sit in several child groups contributes its edge to each of them.
 */
import type { CircuitTarget, GroupEdge, NeuronGroup } from "./circuitFormat";
import { selectClusterCount } from "./clustering";

export function conceptVector(
  lowerVectors: readonly Float32Array[],
  semanticGroups: readonly number[],
  group: number,
): Float32Array {
  const dim = lowerVectors[0]!.length;
  const v = new Float64Array(dim);
  let n = 0;
  semanticGroups.forEach((g, p) => {
    if (g !== group) return;
    const row = lowerVectors[p]!;
    for (let d = 0; d < dim; d++) v[d]! += row[d]!;
    n++;
  });
  // float32, like the representations themselves
  return Float32Array.from(v, (x) => x / n);
}

export interface SemanticGroupVector {
  neuron: number;
  semanticGroup: number;
  vector: Float32Array;
}

export function neuronGroups(items: readonly SemanticGroupVector[], maxGroups: number): NeuronGroup[] {
  if (items.length === 0) return [];
  const labels =
    items.length === 1
      ? [0]
      : selectClusterCount(
          items.map((i) => i.vector),
          maxGroups,
        ).labels;
  // number groups by first appearance so ids are stable for a given input order
  const remap = new Map<number, number>();
  const groups: NeuronGroup[] = [];
  items.forEach((it, i) => {
    const lab = labels[i]!;
    if (!remap.has(lab)) {
      remap.set(lab, groups.length);
      groups.push({ id: groups.length, members: [] });
    }
    groups[remap.get(lab)!]!.members.push({ neuron: it.neuron, semanticGroup: it.semanticGroup });
  });
  return groups;
}

export function groupEdges(
  parentTargets: readonly CircuitTarget[],
  parentGroups: readonly NeuronGroup[],
  childGroups: readonly NeuronGroup[],
): GroupEdge[] {
  const parentOf = new Map<string, number>();
  for (const g of parentGroups) for (const m of g.members) parentOf.set(`${m.neuron}:${m.semanticGroup}`, g.id);
  const childrenOfNeuron = new Map<number, Set<number>>();
  for (const g of childGroups) {
    for (const m of g.members) {
      const s = childrenOfNeuron.get(m.neuron) ?? new Set<number>();
      s.add(g.id);
      childrenOfNeuron.set(m.neuron, s);
    }
  }
  const W = new Map<string, number>();
  for (const t of parentTargets) {
    for (const e of t.edges) {
      const parent = parentOf.get(`${t.neuron}:${e.semanticGroup}`);
      if (parent === undefined) continue;
      for (const child of childrenOfNeuron.get(e.neuron) ?? []) {
        const key = `${child}:${parent}`;
        W.set(key, (W.get(key) ?? 0) + e.weight);
      }
    }
  }
  return [...W.entries()]
    .map(([key, weight]) => {
      const [child, parent] = key.split(":").map(Number) as [number, number];
      return { child, parent, weight };
    })
    .sort((a, b) => a.parent - b.parent || a.child - b.child);
}
