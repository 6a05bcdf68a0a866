/**
 * Stored layout of a circuit: layer = rank (the top pair, holding the class logit's groups, on
 * top; the logit itself sits one rank above, at x = 0), order within a rank chosen to reduce edge
 * crossings with the layered (Sugiyama) heuristic: alternating down and up sweeps that sort each
 * rank by the |weight|-weighted barycentre of its neighbours in the adjacent rank, keeping the
 * ordering with the fewest crossings seen. Computed once when a circuit is stored; the viewer
 * renders these positions with a preset layout.
 */
import type { Circuit } from "~/server/neurflow/light";

export const RANK_GAP = 160;
export const GROUP_GAP = 140;
export const TARGET_GAP = 48;
/** Down + up sweeps of the crossing reduction. */
export const SWEEPS = 6;

export interface Point {
  x: number;
  y: number;
}

/** An edge between position `upper` of rank r and position `lower` of rank r + 1. */
export interface RankEdge {
  upper: number;
  lower: number;
  weight: number;
}

/**
 * Crossings between two adjacent ranks for the given orders (`pos[i]` = position of node i):
 * pairs of edges whose ends are in opposite order. O(E log E + crossings) would be possible; the
 * plain O(E²) count is fast enough for the circuits we store (a few thousand edges per pair).
 */
export function countCrossings(edges: RankEdge[], upperPos: number[], lowerPos: number[]): number {
  const e = edges
    .map((x) => [upperPos[x.upper]!, lowerPos[x.lower]!] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0;
  for (let i = 0; i < e.length; i++) {
    const [ui, li] = e[i]!;
    for (let j = i + 1; j < e.length; j++) {
      const [uj, lj] = e[j]!;
      if (uj > ui && lj < li) n++;
    }
  }
  return n;
}

/**
 * Orders every rank to reduce crossings. `sizes[r]` nodes in rank r; `between[r]` the edges
 * between rank r and r + 1. Returns `pos[r][i]`: the position of node i of rank r in its rank.
 * Deterministic: ties keep the previous order.
 */
export function orderRanks(sizes: number[], between: RankEdge[][], sweeps = SWEEPS): number[][] {
  let pos = sizes.map((n) => Array.from({ length: n }, (_, i) => i));
  const total = (p: number[][]) => between.reduce((a, edges, r) => a + countCrossings(edges, p[r]!, p[r + 1]!), 0);
  let best = pos.map((p) => [...p]);
  let bestCrossings = total(pos);
  const reorder = (r: number, neighbours: { node: number; other: number; weight: number }[], otherPos: number[]) => {
    const sum = new Array<number>(sizes[r]!).fill(0);
    const wsum = new Array<number>(sizes[r]!).fill(0);
    for (const { node, other, weight } of neighbours) {
      const w = Math.abs(weight) || 1e-9;
      sum[node]! += w * otherPos[other]!;
      wsum[node]! += w;
    }
    const cur = pos[r]!;
    const nodes = cur.map((_, i) => i);
    // nodes without neighbours keep their current position as their barycentre
    const bary = nodes.map((i) => (wsum[i]! > 0 ? sum[i]! / wsum[i]! : cur[i]!));
    nodes.sort((a, b) => bary[a]! - bary[b]! || cur[a]! - cur[b]!);
    const next = new Array<number>(sizes[r]!);
    nodes.forEach((node, j) => (next[node] = j));
    pos[r] = next;
  };
  for (let s = 0; s < sweeps && bestCrossings > 0; s++) {
    if (s % 2 === 0) {
      for (let r = 1; r < sizes.length; r++)
        reorder(
          r,
          between[r - 1]!.map((e) => ({ node: e.lower, other: e.upper, weight: e.weight })),
          pos[r - 1]!,
        );
    } else {
      for (let r = sizes.length - 2; r >= 0; r--)
        reorder(
          r,
          between[r]!.map((e) => ({ node: e.upper, other: e.lower, weight: e.weight })),
          pos[r + 1]!,
        );
    }
    const c = total(pos);
    if (c < bestCrossings) {
      bestCrossings = c;
      best = pos.map((p) => [...p]);
    }
  }
  pos = best;
  return pos;
}

function place(pos: number[][], gap: number): Point[][] {
  return pos.map((p, r) => {
    const width = (p.length - 1) * gap;
    return p.map((j) => ({ x: j * gap - width / 2, y: r * RANK_GAP }));
  });
}

/** Edges between the group ranks, as positions in `layer.neuronGroups`. */
export function groupRankEdges(circuit: Circuit): RankEdge[][] {
  return circuit.layers.slice(0, -1).map((layer, r) => {
    const upperIdx = new Map(layer.neuronGroups.map((g, i) => [g.id, i]));
    const lowerIdx = new Map(circuit.layers[r + 1]!.neuronGroups.map((g, i) => [g.id, i]));
    return layer.groupEdges.flatMap((e) => {
      const upper = upperIdx.get(e.parent);
      const lower = lowerIdx.get(e.child);
      return upper == null || lower == null ? [] : [{ upper, lower, weight: e.weight }];
    });
  });
}

/** Positions of every neuron group, indexed [layer][position in layer.neuronGroups]. */
export function layoutNeuronGroups(circuit: Circuit): Point[][] {
  const sizes = circuit.layers.map((l) => l.neuronGroups.length);
  return place(orderRanks(sizes, groupRankEdges(circuit)), GROUP_GAP);
}

/** Positions of the neuron-level hypertree's targets, indexed [layer][target position]. */
export function layoutTargets(circuit: Circuit): Point[][] {
  const sizes = circuit.layers.map((l) => l.targets.length);
  const between = circuit.layers.slice(0, -1).map((layer, r) => {
    const lowerIdx = new Map(circuit.layers[r + 1]!.targets.map((t, i) => [t.neuron, i]));
    return layer.targets.flatMap((t, upper) => {
      const w = new Map<number, number>();
      for (const e of t.edges) w.set(e.neuron, (w.get(e.neuron) ?? 0) + Math.abs(e.weight));
      return t.coreNeurons.flatMap((n) => {
        const lower = lowerIdx.get(n);
        return lower == null ? [] : [{ upper, lower, weight: w.get(n) ?? 1 }];
      });
    });
  });
  return place(orderRanks(sizes, between), TARGET_GAP);
}
