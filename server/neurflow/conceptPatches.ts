/**
 * A neuron group's concept patches (its NGC, paper §3): its members' top patches in the semantic
 * groups they belong to the group through, scored by activation / the semantic group's mean
 * activation (the reference of metric M), strongest first, each patch once.
 */
import type { Circuit } from "./circuitFormat";

export interface ConceptPatch {
  /** Index into the circuit's patches. */
  patch: number;
  /** [image, x, y, size] in model-input pixels. */
  box: [number, number, number, number];
  /** The image's file name. */
  image: string;
  score: number;
}

/** Concept patches of a group: its members' top patches in their semantic groups, by activation / reference. */
export function conceptPatchesOf(circuit: Circuit, pairIndex: number, groupId: number, count: number): ConceptPatch[] {
  const layer = circuit.layers[pairIndex]!;
  const group = layer.neuronGroups.find((g) => g.id === groupId)!;
  const byNeuron = new Map(layer.targets.map((t) => [t.neuron, t]));
  const best = new Map<number, number>();
  for (const m of group.members) {
    const t = byNeuron.get(m.neuron);
    if (!t) continue;
    const idx = t.semanticGroups.flatMap((g, i) => (g === m.semanticGroup ? [i] : []));
    const ref = idx.reduce((a, i) => a + t.topActivations[i]!, 0) / Math.max(idx.length, 1);
    for (const i of idx) {
      const score = t.topActivations[i]! / (Math.abs(ref) + 1e-6);
      const p = t.topPatches[i]!;
      best.set(p, Math.max(best.get(p) ?? -Infinity, score));
    }
  }
  return [...best]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, count)
    .map(([patch, score]) => {
      const box = circuit.patches[patch]! as [number, number, number, number];
      return { patch, box, image: circuit.images[box[0]] ?? "", score };
    });
}
