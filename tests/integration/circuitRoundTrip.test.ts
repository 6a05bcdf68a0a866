import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count } from "drizzle-orm";
import { circuits, neuronGroups, semanticGroups } from "~/db/schema";
import { type Circuit, circuitSchema } from "~/server/neurflow/light";
import { modelForm } from "../helpers/fixtures";
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
    // biome-ignore lint/correctness/noPrecisionLoss: the literal deliberately has more digits than a double holds
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
    const expected = doc.layers.reduce(
      (a, l) => a + l.targets.reduce((b, t) => b + new Set(t.semanticGroups).size, 0),
      0,
    );
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

  const broken: [string, (doc: Circuit) => void, string][] = [
    ["an image name with a folder", (d) => (d.images[3] = "../../private/bee/000.png"), "plain file name"],
    ["an absolute image name", (d) => (d.images[0] = "/etc/passwd"), "plain file name"],
    ["an image name '..'", (d) => (d.images[1] = ".."), "plain file name"],
    ["an image name twice", (d) => (d.images[1] = d.images[0]!), "appears twice"],
    ["a class name that is not model.classes[class.index]", (d) => (d.class.name = "wasp"), 'class.name "wasp"'],
    [
      "a group edge from a group that does not exist",
      (d) => (d.layers[0]!.groupEdges[0]!.parent = 9999),
      "parent 9999 is not a neuron group",
    ],
    [
      "a group edge to a group that does not exist",
      (d) => (d.layers[1]!.groupEdges[0]!.child = 9999),
      "child 9999 is not a neuron group",
    ],
    [
      "a group edge on the lowest layer",
      (d) => d.layers.at(-1)!.groupEdges.push({ parent: d.layers.at(-1)!.neuronGroups[0]!.id, child: 0, weight: 1 }),
      "not a neuron group of the layer below",
    ],
  ];
  for (const [what, breakIt, message] of broken)
    it(`rejects ${what}, storing nothing`, async () => {
      const doc = syntheticCircuit({ seed: 11 });
      expect(doc.layers[0]!.groupEdges.length && doc.layers[1]!.groupEdges.length).toBeGreaterThan(0);
      breakIt(doc);
      const n = circuitCount();
      await expect(env.as.annotator.circuits.import({ document: doc })).rejects.toMatchObject({
        code: "BAD_REQUEST",
        message: expect.stringContaining(message),
      });
      expect(circuitCount()).toBe(n);
    });

  it("with a model named: refuses a circuit of another input size or with layers the model lacks", async () => {
    const { id: modelId } = await env.as.annotator.models.upload(modelForm({ name: "toy" }));
    const ok = syntheticCircuit({ seed: 12 });
    const { id: okId } = await env.as.annotator.circuits.import({ document: ok, modelId });
    // lists and the viewer name the model as it is registered, not by its manifest's name
    expect((await env.as.viewer.circuits.list({})).find((c) => c.id === okId)?.modelName).toBe("toy");
    expect(
      (await env.as.viewer.circuitBrowse.search({ sort: "newest", limit: 50 })).find((c) => c.id === okId)?.modelName,
    ).toBe("toy");
    expect((await env.as.viewer.circuitGraph.get({ id: okId })).circuit.modelName).toBe("toy");
    const n = circuitCount();
    const size = syntheticCircuit({ seed: 12 });
    size.model.inputSize = 224;
    await expect(env.as.annotator.circuits.import({ document: size, modelId })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("224 px"),
    });
    const layers = syntheticCircuit({ seed: 12, layers: ["fc", "layer4.1", "block9"] });
    await expect(env.as.annotator.circuits.import({ document: layers, modelId })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining('no layer "block9"'),
    });
    expect(circuitCount()).toBe(n);
  });

  it("export of a missing circuit is NOT_FOUND", async () => {
    await expect(env.as.viewer.circuits.export({ id: 987654 })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
