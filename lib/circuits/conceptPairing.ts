/**
 * A stored concept match (the engine's `conceptMatch` result) read against the two circuits'
 * graphs: each group's best match in the other circuit by graph row id, and whether it reaches the
 * match's threshold (isomorphic: the compare page's client components use it).
 */
import type { ConceptMatchResult } from "~/server/neurflow/light";
import type { CircuitGraph } from "./viewTypes";

export interface ConceptBest {
  /** Row id of the group in its own circuit. */
  id: number;
  /** Row id of its best match in the other circuit (null when nothing is comparable). */
  other: number | null;
  strength: number | null;
  matched: boolean;
}

export interface ConceptPairing {
  minStrength: number;
  probePatches: number;
  a: ConceptBest[];
  b: ConceptBest[];
}

export function conceptPairing(a: CircuitGraph, b: CircuitGraph, r: ConceptMatchResult): ConceptPairing {
  const rowId = (g: CircuitGraph, pairIndex: number, groupId: number) =>
    g.groups.find((x) => x.layer === pairIndex && x.groupId === groupId)?.id ?? null;
  const side = (
    own: CircuitGraph,
    other: CircuitGraph,
    groups: ConceptMatchResult["a"],
    otherGroups: ConceptMatchResult["b"],
  ) =>
    groups.flatMap((g) => {
      const id = rowId(own, g.pairIndex, g.groupId);
      if (id == null) return [];
      const o = g.best ? otherGroups[g.best.group] : undefined;
      return [
        {
          id,
          other: o ? rowId(other, o.pairIndex, o.groupId) : null,
          strength: g.best?.strength ?? null,
          matched: g.matched,
        },
      ];
    });
  return {
    minStrength: r.params.minStrength,
    probePatches: r.params.probePatches,
    a: side(a, b, r.a, r.b),
    b: side(b, a, r.b, r.a),
  };
}
