import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count } from "drizzle-orm";
import { circuits, neuronGroups, semanticGroups } from "~/db/schema";
import { circuitSchema } from "~/server/neurflow/circuitFormat";
import { syntheticCircuit } from "../helpers/syntheticCircuit";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

let env: TestEnv;
beforeAll(async () => {
  env = await makeEnv();
});
afterAll(() => env.close());

const circuitCount = () => env.db.select({ n: count() }).from(circuits).get()!.n;

describe("circuit import/export", () => {
  it("round-trips a document exactly (optional fields present and absent)", async () => {
    for (const optionals of [true, false]) {
      const doc = syntheticCircuit({ seed: optionals ? 3 : 4, optionals, layers: ["fc", "l4", "l3", "l2", "l1"] });
      expect(circuitSchema.parse(doc)).toStrictEqual(doc); // the fixture itself is valid
      const { id } = await env.as.annotator.circuits.import({ document: structuredClone(doc) });
      const back = await env.as.viewer.circuits.export({ id });
      expect(back).toStrictEqual(doc);
      expect(JSON.parse(JSON.stringify(back))).toStrictEqual(JSON.parse(JSON.stringify(doc)));
    }
  });

  it("keeps exotic numbers, empty arrays and order", async () => {
    const doc = syntheticCircuit({ seed: 9 });
    const t = doc.layers[0]!.targets[0]!;
    t.importance[0] = 1e-308;
    t.importance[1] = -123456789.123456789;
    t.edges[0]!.weight = 5e-324;
    t.topActivations.reverse();
    doc.layers.at(-1)!.groupEdges = [];
    doc.layers[0]!.timings = {};
    const { id } = await env.as.admin.circuits.import({ document: doc });
    expect(await env.as.viewer.circuits.export({ id })).toStrictEqual(doc);
  });

  it("stores derived rows: semantic groups and layout positions", async () => {
    const doc = syntheticCircuit({ seed: 5 });
    const before = env.db.select({ n: count() }).from(semanticGroups).get()!.n;
    await env.as.annotator.circuits.import({ document: doc });
    const expected = doc.layers.reduce((a, l) => a + l.targets.reduce((b, t) => b + new Set(t.semanticGroups).size, 0), 0);
    expect(env.db.select({ n: count() }).from(semanticGroups).get()!.n - before).toBe(expected);
    const groups = env.db.select().from(neuronGroups).all();
    expect(groups.every((g) => Number.isFinite(g.layoutX) && Number.isFinite(g.layoutY))).toBe(true);
  });

  it("summary lists layers with counts", async () => {
    const doc = syntheticCircuit({ seed: 6 });
    const { id } = await env.as.annotator.circuits.import({ document: doc });
    const s = await env.as.viewer.circuits.get({ id });
    expect(s.layers.map((l) => [l.upper, l.lower, l.targets, l.neuronGroups, l.groupEdges])).toStrictEqual(
      doc.layers.map((l) => [l.upper, l.lower, l.targets.length, l.neuronGroups.length, l.groupEdges.length]),
    );
    const list = await env.as.viewer.circuits.list({});
    expect(list.some((c) => c.id === id)).toBe(true);
  });

  it("rejects an invalid document with a clear error and stores nothing", async () => {
    const n = circuitCount();
    await expect(env.as.annotator.circuits.import({ document: { format: "something-else" } })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("not a neurflow-circuit/1 document"),
    });
    const bad = syntheticCircuit({ seed: 7 });
    bad.layers[0]!.targets[0]!.topPatches[0] = 999_999; // outside patches
    await expect(env.as.annotator.circuits.import({ document: bad })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("outside patches"),
    });
    const dup = syntheticCircuit({ seed: 8 });
    dup.layers[0]!.neuronGroups.push({ ...dup.layers[0]!.neuronGroups[0]! });
    await expect(env.as.annotator.circuits.import({ document: dup })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(circuitCount()).toBe(n);
  });

  it("export of a missing circuit is NOT_FOUND", async () => {
    await expect(env.as.viewer.circuits.export({ id: 987654 })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
