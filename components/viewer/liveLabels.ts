/**
 * The viewer's graph with the labels and explanations as they are now: the page renders with the
 * labels of its request, and an annotator may change them while it is open (or a label job may
 * finish). `current` is `labels.forCircuit` (document keys: layer entry, group ids).
 */
import type { CircuitGraph } from "~/lib/circuits/viewTypes";

export interface CurrentLabels {
  groups: { layer: number; group: number; text: string }[];
  edges: { layer: number; child: number; parent: number; text: string }[];
}

/** `graph` itself when nothing differs, else a copy with the current texts (layout untouched). */
export function withCurrentLabels(graph: CircuitGraph, current: CurrentLabels | null | undefined): CircuitGraph {
  if (!current) return graph;
  const label = new Map(current.groups.map((g) => [`${g.layer}:${g.group}`, g.text]));
  const explanation = new Map(current.edges.map((e) => [`${e.layer}:${e.child}:${e.parent}`, e.text]));
  const byId = new Map(graph.groups.map((g) => [g.id, g]));
  let changed = false;
  const groups = graph.groups.map((g) => {
    const text = label.get(`${g.layer}:${g.groupId}`) ?? g.label;
    if (text === g.label) return g;
    changed = true;
    return { ...g, label: text };
  });
  const edges = graph.edges.map((e) => {
    const child = byId.get(e.source);
    const parent = byId.get(e.target);
    const text =
      child && parent
        ? (explanation.get(`${parent.layer}:${child.groupId}:${parent.groupId}`) ?? e.explanation)
        : e.explanation;
    if (text === e.explanation) return e;
    changed = true;
    return { ...e, explanation: text };
  });
  return changed ? { ...graph, groups, edges } : graph;
}
