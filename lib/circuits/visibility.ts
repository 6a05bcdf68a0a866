/**
 * Which neuron groups the viewer shows at a weight threshold (isomorphic: the viewer, the
 * faithfulness job and its tests use the same rule; `applyThreshold` in
 * components/viewer/CircuitCanvas.tsx applies it to the graph): a group edge is visible when
 * |W| ≥ threshold · max|W|, the logit's edges always are, and a group is visible when at least one
 * of its edges is.
 */
import { maxAbsWeight } from "./svg";
import type { CircuitGraph } from "./viewTypes";

/** What the rule reads of a concept graph (a `CircuitGraph` is one). */
export interface VisibilityGraph {
  edges: Pick<CircuitGraph["edges"][number], "source" | "target" | "weight">[];
  logitEdges: Pick<CircuitGraph["logitEdges"][number], "group">[];
}

/** Row ids of the groups visible at `threshold` (a fraction 0..1 of the circuit's largest |W|), ascending. */
export function visibleGroupIds(graph: VisibilityGraph, threshold: number): number[] {
  const cut = threshold * maxAbsWeight(graph);
  const visible = new Set<number>();
  for (const e of graph.logitEdges) visible.add(e.group);
  for (const e of graph.edges) {
    if (Math.abs(e.weight) < cut) continue;
    visible.add(e.source);
    visible.add(e.target);
  }
  return [...visible].sort((a, b) => a - b);
}

/** A set of visible groups as a lookup key. */
export function visibilityKey(groupIds: readonly number[]): string {
  return [...groupIds].sort((a, b) => a - b).join(",");
}
