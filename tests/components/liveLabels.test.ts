/** The viewer follows label and explanation edits made while it is open. */
import { describe, expect, it } from "vitest";
import { withCurrentLabels } from "~/components/viewer/liveLabels";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";

const graph = {
  circuit: { id: 1, layers: ["fc", "layer4.1"] },
  groups: [
    { id: 10, layer: 0, groupId: 0, label: "old top" },
    { id: 11, layer: 1, groupId: 3, label: null },
    { id: 12, layer: 1, groupId: 4, label: "kept" },
  ],
  edges: [
    { id: 100, source: 11, target: 10, weight: 0.5, explanation: null },
    { id: 101, source: 12, target: 10, weight: -0.2, explanation: "old why" },
  ],
} as unknown as CircuitGraph;

describe("withCurrentLabels", () => {
  it("puts the current texts on the groups and edges they name, by document ids", () => {
    const live = withCurrentLabels(graph, {
      groups: [
        { layer: 0, group: 0, text: "bees on grass" },
        { layer: 1, group: 3, text: "stripes" },
      ],
      edges: [{ layer: 0, child: 3, parent: 0, text: "stripes make the abdomen" }],
    });
    expect(live.groups.map((g) => g.label)).toStrictEqual(["bees on grass", "stripes", "kept"]);
    expect(live.edges.map((e) => e.explanation)).toStrictEqual(["stripes make the abdomen", "old why"]);
    expect(graph.groups[0]!.label).toBe("old top"); // the page's graph is not changed
  });

  it("returns the same graph when nothing differs (the canvas keeps its elements)", () => {
    expect(withCurrentLabels(graph, null)).toBe(graph);
    expect(
      withCurrentLabels(graph, {
        groups: [{ layer: 0, group: 0, text: "old top" }],
        edges: [{ layer: 0, child: 4, parent: 0, text: "old why" }],
      }),
    ).toBe(graph);
  });
});
