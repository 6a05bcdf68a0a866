/**
 * Which neuron groups and edges the viewer shows at a weight threshold (isomorphic: the viewer, the
 * faithfulness job and its tests use the same rule; `applyThreshold` in
 * components/viewer/CircuitCanvas.tsx applies it to the graph). Two modes:
 *   - "global": a group edge is visible when |W| ≥ threshold · the circuit's largest |W|;
 *   - "perLayer": when |W| ≥ threshold · the largest |W| among the edges into the same layer pair
 *     (the edges whose child group is in the same rank), so every rank keeps its strongest edges
 *     whatever the weight scale of the others.
 * The logit's edges are always visible, and a group is visible when at least one of its edges is.
 */
import { maxAbsWeight } from "./svg";
import type { CircuitGraph } from "./viewTypes";

/** What the rule reads of a concept graph (a `CircuitGraph` is one; a remote worker gets just this). */
export interface VisibilityGraph {
  groups: Pick<CircuitGraph["groups"][number], "id" | "layer">[];
  edges: Pick<CircuitGraph["edges"][number], "id" | "source" | "target" | "weight">[];
  logitEdges: Pick<CircuitGraph["logitEdges"][number], "group">[];
}
export type ThresholdMode = "global" | "perLayer";
export const THRESHOLD_MODES: readonly ThresholdMode[] = ["global", "perLayer"];

/** |W| cut of each group edge (by edge row id) at `threshold`. */
export function edgeCuts(
  graph: VisibilityGraph,
  threshold: number,
  mode: ThresholdMode = "global",
): Map<number, number> {
  const cuts = new Map<number, number>();
  if (mode === "global") {
    const cut = threshold * maxAbsWeight(graph);
    for (const e of graph.edges) cuts.set(e.id, cut);
    return cuts;
  }
  const layerOf = new Map(graph.groups.map((g) => [g.id, g.layer]));
  const maxByLayer = new Map<number, number>();
  for (const e of graph.edges) {
    const l = layerOf.get(e.source) ?? -1;
    maxByLayer.set(l, Math.max(maxByLayer.get(l) ?? 0, Math.abs(e.weight)));
  }
  for (const e of graph.edges) cuts.set(e.id, threshold * (maxByLayer.get(layerOf.get(e.source) ?? -1) || 1));
  return cuts;
}

/** Row ids of the group edges visible at `threshold` (a fraction 0..1), ascending. */
export function visibleEdgeIds(graph: VisibilityGraph, threshold: number, mode: ThresholdMode = "global"): number[] {
  const cuts = edgeCuts(graph, threshold, mode);
  return graph.edges
    .filter((e) => Math.abs(e.weight) >= cuts.get(e.id)!)
    .map((e) => e.id)
    .sort((a, b) => a - b);
}

/** Row ids of the groups visible at `threshold` (a fraction 0..1), ascending. */
export function visibleGroupIds(graph: VisibilityGraph, threshold: number, mode: ThresholdMode = "global"): number[] {
  const cuts = edgeCuts(graph, threshold, mode);
  const visible = new Set<number>();
  for (const e of graph.logitEdges) visible.add(e.group);
  for (const e of graph.edges) {
    if (Math.abs(e.weight) < cuts.get(e.id)!) continue;
    visible.add(e.source);
    visible.add(e.target);
  }
  return [...visible].sort((a, b) => a - b);
}

/** A set of visible groups as a lookup key. */
export function visibilityKey(groupIds: readonly number[]): string {
  return [...groupIds].sort((a, b) => a - b).join(",");
}
