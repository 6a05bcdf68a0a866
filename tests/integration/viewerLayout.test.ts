/**
 * The stored layout (layered, crossing-reduced), the concept graph read from the tables, group
 * matching for compare, and browsing (search over class names and labels, sorting).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labels } from "~/db/schema";
import { likePattern } from "~/server/api/routers/circuitBrowse";
import { compareGraphs } from "~/server/circuits/compare";
import { loadGraph } from "~/server/circuits/graph";
import {
  countCrossings,
  groupRankEdges,
  layoutNeuronGroups,
  orderRanks,
  RANK_GAP,
  type RankEdge,
} from "~/server/circuits/layout";
import { circuitSvg } from "~/lib/circuits/svg";
import { syntheticCircuit } from "../helpers/syntheticCircuit";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset, type Seeded } from "../helpers/viewerSeed";

function totalCrossings(between: RankEdge[][], pos: number[][]): number {
  return between.reduce((a, e, r) => a + countCrossings(e, pos[r]!, pos[r + 1]!), 0);
}

describe("layout", () => {
  it("counts crossings", () => {
    const edges = [
      { upper: 0, lower: 1, weight: 1 },
      { upper: 1, lower: 0, weight: 1 },
    ];
    expect(countCrossings(edges, [0, 1], [0, 1])).toBe(1);
    expect(countCrossings(edges, [0, 1], [1, 0])).toBe(0);
  });

  it("untangles a permuted ladder completely", () => {
    // rank r node i connects to rank r+1 node perm(i): a crossing-free order exists
    const n = 8;
    const perms = [
      [3, 7, 0, 5, 1, 6, 2, 4],
      [6, 2, 4, 0, 7, 1, 5, 3],
    ];
    const between = perms.map((p) => p.map((lower, upper) => ({ upper, lower, weight: 1 })));
    const identity = [0, 1, 2].map(() => Array.from({ length: n }, (_, i) => i));
    expect(totalCrossings(between, identity)).toBeGreaterThan(10);
    expect(totalCrossings(between, orderRanks([n, n, n], between))).toBe(0);
  });

  it("never does worse than the input order, on synthetic circuits", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const c = syntheticCircuit({ seed, tau: 4, channels: 30, layers: ["fc", "a", "b", "c", "d"] });
      const between = groupRankEdges(c);
      const sizes = c.layers.map((l) => l.neuronGroups.length);
      const identity = sizes.map((s) => Array.from({ length: s }, (_, i) => i));
      expect(totalCrossings(between, orderRanks(sizes, between))).toBeLessThanOrEqual(
        totalCrossings(between, identity),
      );
    }
  });

  it("puts one rank per layer, the logit's groups on top, nodes apart", () => {
    const c = syntheticCircuit({ seed: 2 });
    const pos = layoutNeuronGroups(c);
    pos.forEach((rank, r) => {
      expect(rank.every((p) => p.y === r * RANK_GAP)).toBe(true);
      const xs = rank.map((p) => p.x).sort((a, b) => a - b);
      for (let i = 1; i < xs.length; i++) expect(xs[i]! - xs[i - 1]!).toBeGreaterThanOrEqual(100);
      expect(Math.abs(xs[0]! + xs[xs.length - 1]!)).toBeLessThan(1e-9); // centred
    });
  });

  it("is deterministic", () => {
    const c = syntheticCircuit({ seed: 9 });
    expect(layoutNeuronGroups(c)).toStrictEqual(layoutNeuronGroups(structuredClone(c)));
  });
});

describe("graph, compare, browse", () => {
  let env: TestEnv;
  let bee: Seeded;
  let fish: Seeded;
  beforeAll(async () => {
    env = await makeEnv();
    const base = await seedModelAndDataset(env.as.admin);
    bee = seedCircuit(env.db, base, syntheticCircuit({ seed: 11 }));
    fish = seedCircuit(env.db, base, syntheticCircuit({ seed: 12, className: "fish" }));
  });
  afterAll(() => env.close());

  it("reads the stored positions, edges and concept patches", () => {
    const doc = syntheticCircuit({ seed: 11 });
    const g = loadGraph(env.db, bee.circuitId)!;
    const pos = layoutNeuronGroups(doc);
    expect(g.groups.length).toBe(doc.layers.reduce((a, l) => a + l.neuronGroups.length, 0));
    for (const grp of g.groups) {
      const li = doc.layers[grp.layer]!;
      const gi = li.neuronGroups.findIndex((x) => x.id === grp.groupId);
      expect({ x: grp.x, y: grp.y }).toStrictEqual(pos[grp.layer]![gi]);
      // every concept patch is a top patch of a member in that member's semantic group
      for (const p of grp.patches)
        expect(
          grp.members.some((m) => {
            const t = li.targets.find((t) => t.neuron === m.neuron)!;
            return t.topPatches.some((tp, r) => tp === p && t.semanticGroups[r] === m.semanticGroup);
          }),
        ).toBe(true);
    }
    expect(g.edges.length).toBe(doc.layers.reduce((a, l) => a + l.groupEdges.length, 0));
    expect(g.logitEdges.reduce((a, e) => a + e.weight, 0)).toBeCloseTo(1, 9);
    expect(g.circuit.hasImages).toBe(true);
  });

  it("the SVG escapes labels and draws every visible element", () => {
    const g = loadGraph(env.db, bee.circuitId)!;
    g.groups[0]!.label = `<script>alert("x")</script> & co`;
    const svg = circuitSvg(g, { title: "a <b>" });
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("&lt;script&gt;");
    expect(svg).toContain("a &lt;b&gt;");
    expect(svg.match(/<line /g)!.length).toBe(g.edges.length + g.logitEdges.length);
    // the sign of W is drawn by pattern as well as colour: negative edges dotted
    const negative = g.edges.filter((e) => e.weight < 0).length;
    expect(negative).toBeGreaterThan(0);
    expect(svg.match(/stroke-dasharray="2 3"/g)?.length ?? 0).toBe(negative);
  });

  it("compare matches groups by member neurons", async () => {
    const r = await env.as.viewer.circuitCompare.get({ a: bee.circuitId, b: bee.circuitId });
    expect(r.comparison.matches.length).toBe(r.a.groups.length);
    expect(r.comparison.matches.every((m) => m.a === m.b && m.jaccard === 1)).toBe(true);
    const x = await env.as.viewer.circuitCompare.get({ a: bee.circuitId, b: fish.circuitId });
    expect(x.comparison.matches.length + x.comparison.onlyA.length).toBe(x.a.groups.length);
    expect(x.comparison.matches.length + x.comparison.onlyB.length).toBe(x.b.groups.length);
    const again = compareGraphs(x.a, x.b);
    expect(again).toStrictEqual(x.comparison);
  });

  it("browse searches class names and labels, with LIKE wildcards taken literally", async () => {
    expect((await env.as.viewer.circuitBrowse.search({ q: "fis" })).map((c) => c.id)).toEqual([fish.circuitId]);
    expect((await env.as.viewer.circuitBrowse.search({ q: "%" })).length).toBe(0);
    expect(likePattern("a_b%")).toBe("%a\\_b\\%%");
    const g = loadGraph(env.db, bee.circuitId)!.groups[0]!;
    env.db
      .insert(labels)
      .values({
        circuitId: bee.circuitId,
        neuronGroupId: g.id,
        text: "striped abdomen",
        version: 1,
        updatedAt: Date.now(),
      })
      .run();
    const hit = await env.as.viewer.circuitBrowse.search({ q: "stripe" });
    expect(hit.map((c) => c.id)).toEqual([bee.circuitId]);
    expect(hit[0]!.matchedLabels).toEqual(["striped abdomen"]);
    expect(loadGraph(env.db, bee.circuitId)!.groups[0]!.label).toBe("striped abdomen");
    const byClass = await env.as.viewer.circuitBrowse.search({ sort: "class" });
    expect(byClass.map((c) => c.className)).toEqual(["bee", "fish"]);
    const newest = await env.as.viewer.circuitBrowse.search({});
    expect(newest[0]!.id).toBe(fish.circuitId);
    expect((await env.as.viewer.circuitBrowse.search({ modelId: bee.modelId + 100 })).length).toBe(0);
  });
});
