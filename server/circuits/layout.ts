/**
 * Stored layout of a circuit: layer = rank (the top pair, holding the class logit's groups, on
 * top), order within a rank by the barycentre of the connected nodes one rank up (one sweep of
 * the classic crossing-reduction heuristic). Computed once when a circuit is stored; the viewer
 * renders these positions with a preset layout.
 */
import type { Circuit } from "~/server/neurflow/circuitFormat";

export const RANK_GAP = 160;
export const GROUP_GAP = 140;
export const TARGET_GAP = 48;

export interface Point {
  x: number;
  y: number;
}

function placeRank<K>(keys: K[], parentsOf: (k: K) => number[], gap: number, y: number): Map<K, Point> {
  const scored = keys.map((k, i) => {
    const xs = parentsOf(k);
    return { k, i, b: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.POSITIVE_INFINITY };
  });
  scored.sort((a, b) => a.b - b.b || a.i - b.i);
  const width = (scored.length - 1) * gap;
  const out = new Map<K, Point>();
  scored.forEach((s, j) => out.set(s.k, { x: j * gap - width / 2, y }));
  return out;
}

/** Positions of every neuron group, indexed [layer][position in layer.neuronGroups]. */
export function layoutNeuronGroups(circuit: Circuit): Point[][] {
  const result: Point[][] = [];
  let prev: Map<number, Point> | null = null; // group id → point, rank above
  circuit.layers.forEach((layer, li) => {
    const above = circuit.layers[li - 1];
    const parentsOf = (gid: number): number[] => {
      if (!above || !prev) return [];
      const p = prev;
      return above.groupEdges.filter((e) => e.child === gid && p.has(e.parent)).map((e) => p.get(e.parent)!.x);
    };
    const placed = placeRank(
      layer.neuronGroups.map((g) => g.id),
      parentsOf,
      GROUP_GAP,
      li * RANK_GAP,
    );
    result.push(layer.neuronGroups.map((g) => placed.get(g.id)!));
    prev = placed;
  });
  return result;
}

/** Positions of the neuron-level hypertree's targets, indexed [layer][target position]. */
export function layoutTargets(circuit: Circuit): Point[][] {
  const result: Point[][] = [];
  let prev: Map<number, Point> | null = null; // neuron → point, rank above
  circuit.layers.forEach((layer, li) => {
    const above = circuit.layers[li - 1];
    const parentsOf = (neuron: number): number[] => {
      if (!above || !prev) return [];
      const p = prev;
      return above.targets.filter((t) => t.coreNeurons.includes(neuron) && p.has(t.neuron)).map((t) => p.get(t.neuron)!.x);
    };
    const placed = placeRank(
      layer.targets.map((t) => t.neuron),
      parentsOf,
      TARGET_GAP,
      li * RANK_GAP,
    );
    result.push(layer.targets.map((t) => placed.get(t.neuron)!));
    prev = placed;
  });
  return result;
}
