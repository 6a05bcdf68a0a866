/**
 * The viewer's visibility rule in both threshold modes (lib/circuits/visibility.ts), on a hand-made
 * graph whose two layers have weight scales ten times apart: global thresholds empty the weak
 * layer first, per-layer thresholds keep each layer's strongest edge; visible sets shrink
 * monotonically as the threshold rises, in both modes.
 */
import { describe, expect, it } from "vitest";
import { edgeCuts, visibleEdgeIds, visibleGroupIds, type VisibilityGraph } from "~/lib/circuits/visibility";

// rank 0 (layer pair 0): groups 1, 2 (logit edges); rank 1: groups 3, 4; rank 2: groups 5, 6
const group = (id: number, layer: number) => ({ id, layer }) as VisibilityGraph["groups"][number];
const edge = (id: number, source: number, target: number, weight: number) =>
  ({ id, source, target, weight }) as VisibilityGraph["edges"][number];
const graph: VisibilityGraph = {
  groups: [group(1, 0), group(2, 0), group(3, 1), group(4, 1), group(5, 2), group(6, 2)],
  // rank 1 → rank 0: weak scale (max 0.1); rank 2 → rank 1: strong scale (max 1)
  edges: [edge(10, 3, 1, 0.1), edge(11, 4, 2, -0.05), edge(12, 5, 3, 1), edge(13, 6, 4, 0.4)],
  logitEdges: [{ group: 1 }, { group: 2 }],
};

describe("visibility: global and per-layer thresholds", () => {
  it("global: a fraction of the circuit's largest |W| (the weak layer goes first)", () => {
    expect([...edgeCuts(graph, 0.2, "global").values()]).toEqual([0.2, 0.2, 0.2, 0.2]);
    expect(visibleEdgeIds(graph, 0.2, "global")).toEqual([12, 13]);
    expect(visibleGroupIds(graph, 0.2, "global")).toEqual([1, 2, 3, 4, 5, 6]);
    expect(visibleEdgeIds(graph, 0.5, "global")).toEqual([12]);
    // group 4 and 6 lose their only edges; 1 and 2 stay (logit edges)
    expect(visibleGroupIds(graph, 0.5, "global")).toEqual([1, 2, 3, 5]);
  });

  it("per layer: a fraction of the largest |W| of the edges out of the same rank", () => {
    const cuts = edgeCuts(graph, 0.5, "perLayer");
    expect(cuts.get(10)).toBeCloseTo(0.05, 12);
    expect(cuts.get(11)).toBeCloseTo(0.05, 12);
    expect(cuts.get(12)).toBeCloseTo(0.5, 12);
    expect(cuts.get(13)).toBeCloseTo(0.5, 12);
    expect(visibleEdgeIds(graph, 0.5, "perLayer")).toEqual([10, 11, 12]);
    expect(visibleGroupIds(graph, 0.5, "perLayer")).toEqual([1, 2, 3, 4, 5]);
    // at 1 each layer keeps exactly its strongest edge
    expect(visibleEdgeIds(graph, 1, "perLayer")).toEqual([10, 12]);
    expect(visibleEdgeIds(graph, 1, "global")).toEqual([12]);
  });

  it("defaults to global; at 0 everything is visible in both modes", () => {
    expect(visibleEdgeIds(graph, 0.5)).toEqual(visibleEdgeIds(graph, 0.5, "global"));
    for (const mode of ["global", "perLayer"] as const) {
      expect(visibleEdgeIds(graph, 0, mode)).toEqual([10, 11, 12, 13]);
      expect(visibleGroupIds(graph, 0, mode)).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  it("visible sets are nested: a higher threshold never shows an edge or a group a lower one hid", () => {
    for (const mode of ["global", "perLayer"] as const) {
      let edges = new Set(visibleEdgeIds(graph, 0, mode));
      let groups = new Set(visibleGroupIds(graph, 0, mode));
      for (let i = 1; i <= 100; i++) {
        const e = visibleEdgeIds(graph, i / 100, mode);
        const g = visibleGroupIds(graph, i / 100, mode);
        for (const id of e) expect(edges.has(id)).toBe(true);
        for (const id of g) expect(groups.has(id)).toBe(true);
        edges = new Set(e);
        groups = new Set(g);
      }
    }
  });
});
