/**
 * Revisions of labels and explanations through the routers on a real SQLite file: provenance,
 * annotator edits, optimistic versioning (a stale save is refused with the newer text), review
 * state, revert to any revision, roles (viewers read, cannot write), input validation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { circuits } from "~/db/schema";
import { loadCircuitForLabels } from "~/server/labeling/circuitData";
import { resolveTarget, saveRevision } from "~/server/labeling/store";
import { loadGraph } from "~/server/circuits/graph";
import { diffWords } from "~/components/labels/diff";
import { labelledCircuit } from "../helpers/labelsFixture";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

let env: TestEnv;
let circuitId: number;
let group: { kind: "group"; layer: number; group: number };
let edge: { kind: "edge"; layer: number; child: number; parent: number };

function tableDump(): string {
  return ["labels", "label_revisions", "explanations", "explanation_revisions"]
    .map((t) => JSON.stringify(env.db.$client.prepare(`select * from ${t} order by id`).all()))
    .join("\n");
}

beforeAll(async () => {
  env = await makeEnv();
  circuitId = await labelledCircuit(env, { seed: 21 });
  const data = loadCircuitForLabels(env.db, circuitId)!;
  const g = data.groups[0]!;
  group = { kind: "group", layer: g.layer, group: g.group };
  const e = data.edges[0]!;
  edge = { kind: "edge", layer: e.layer, child: e.child, parent: e.parent };
  // what a label job stores
  saveRevision(env.db, resolveTarget(env.db, circuitId, group), {
    expectedVersion: 0,
    text: "yellow stripes",
    description: "Black and yellow stripes.",
    source: "model",
    modelName: "fake-vlm-1",
    promptVersion: "label-v1",
    evidence: g.patches.slice(0, 4),
    promptTokens: 100,
    completionTokens: 10,
    now: 1000,
  });
});
afterAll(() => env.close());

describe("label revisions", () => {
  it("viewers read the model's revision with its provenance and cannot edit", async () => {
    const v = await env.as.viewer.labels.get({ circuitId, target: group });
    expect(v.canEdit).toBe(false);
    expect(v.head).toMatchObject({
      text: "yellow stripes",
      description: "Black and yellow stripes.",
      version: 1,
      review: "unreviewed",
    });
    expect(v.revisions).toHaveLength(1);
    expect(v.revisions[0]).toMatchObject({
      source: "model",
      modelName: "fake-vlm-1",
      promptVersion: "label-v1",
      author: null,
      promptTokens: 100,
      createdAt: 1000,
    });
    expect(v.revisions[0]!.evidence).toHaveLength(4);
    const before = tableDump();
    for (const call of [
      () => env.as.viewer.labels.save({ circuitId, target: group, expectedVersion: 1, text: "viewer edit" }),
      () => env.as.viewer.labels.revert({ circuitId, target: group, toVersion: 1, expectedVersion: 1 }),
      () => env.as.viewer.labels.review({ circuitId, target: group, expectedVersion: 1, review: "reviewed" }),
      () => env.as.viewer.labels.start({ circuitId }),
    ])
      await expect(call()).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(tableDump()).toBe(before);
    expect((await env.as.annotator.labels.get({ circuitId, target: group })).canEdit).toBe(true);
  });

  it("an annotator's edit is a new revision; a second session's stale save is refused with the newer text", async () => {
    const first = env.caller(env.tokens.annotator).call;
    const second = env.caller(env.tokens.admin).call; // another session (admins may annotate)
    const seen1 = (await first.labels.get({ circuitId, target: group })).head!.version;
    const seen2 = (await second.labels.get({ circuitId, target: group })).head!.version;
    const r = await first.labels.save({
      circuitId,
      target: group,
      expectedVersion: seen1,
      text: "  bee abdomen stripes ",
      description: "The striped abdomen of a bee.",
    });
    expect(r).toMatchObject({ created: true, head: { text: "bee abdomen stripes", version: 2 } });
    const before = tableDump();
    const err = await second.labels
      .save({ circuitId, target: group, expectedVersion: seen2, text: "wings" })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "CONFLICT" });
    expect((err as Error).message).toContain('"bee abdomen stripes"');
    expect((err as Error).message).toContain("v2");
    expect(tableDump()).toBe(before);
    const h = await second.labels.get({ circuitId, target: group });
    expect(h.revisions.map((x) => [x.version, x.source, x.author])).toStrictEqual([
      [1, "model", null],
      [2, "annotator", "annotator"],
    ]);
    // saving the same text again changes nothing
    await expect(
      first.labels.save({
        circuitId,
        target: group,
        expectedVersion: 2,
        text: "bee abdomen stripes",
        description: "The striped abdomen of a bee.",
      }),
    ).resolves.toMatchObject({ created: false });
  });

  it("review state: reviewed / disputed on the version seen; a new text resets it", async () => {
    await expect(
      env.as.annotator.labels.review({ circuitId, target: group, expectedVersion: 1, review: "reviewed" }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(
      env.as.annotator.labels.review({ circuitId, target: group, expectedVersion: 2, review: "disputed" }),
    ).resolves.toMatchObject({ review: "disputed", version: 2 });
    await expect(
      env.as.annotator.labels.review({ circuitId, target: group, expectedVersion: 2, review: "reviewed" }),
    ).resolves.toMatchObject({ review: "reviewed" });
    const r = await env.as.annotator.labels.save({
      circuitId,
      target: group,
      expectedVersion: 2,
      text: "striped abdomen",
    });
    expect(r.head).toMatchObject({ version: 3, review: "unreviewed", description: null });
  });

  it("revert to any revision adds a revision with that text", async () => {
    const h = await env.as.annotator.labels.revert({ circuitId, target: group, toVersion: 1, expectedVersion: 3 });
    expect(h).toMatchObject({ version: 4, text: "yellow stripes", description: "Black and yellow stripes." });
    const v = await env.as.viewer.labels.get({ circuitId, target: group });
    expect(v.revisions.at(-1)).toMatchObject({ version: 4, source: "revert", author: "annotator", revertedTo: 1 });
    expect(v.revisions.at(-1)!.evidence).toStrictEqual(v.revisions[0]!.evidence);
    await expect(
      env.as.annotator.labels.revert({ circuitId, target: group, toVersion: 9, expectedVersion: 4 }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      env.as.annotator.labels.revert({ circuitId, target: group, toVersion: 2, expectedVersion: 3 }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("a first label by an annotator starts at v1; two sessions creating it: the second is refused", async () => {
    const data = loadCircuitForLabels(env.db, circuitId)!;
    const g = data.groups[1]!;
    const target = { kind: "group" as const, layer: g.layer, group: g.group };
    expect((await env.as.viewer.labels.get({ circuitId, target })).head).toBeNull();
    await expect(
      env.as.annotator.labels.save({ circuitId, target, expectedVersion: 0, text: "antenna" }),
    ).resolves.toMatchObject({ head: { version: 1 } });
    await expect(
      env.as.admin.labels.save({ circuitId, target, expectedVersion: 0, text: "legs" }),
    ).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining('"antenna"') });
  });

  it("explanations of edges have the same revisions", async () => {
    await expect(
      env.as.annotator.labels.save({
        circuitId,
        target: edge,
        expectedVersion: 0,
        text: "Stripes make up the abdomen.\n\nReasoning:\n1. …",
      }),
    ).resolves.toMatchObject({ head: { version: 1, description: null } });
    await expect(
      env.as.admin.labels.save({ circuitId, target: edge, expectedVersion: 0, text: "other" }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await env.as.annotator.labels.save({
      circuitId,
      target: edge,
      expectedVersion: 1,
      text: "Stripes and fur make up the abdomen.",
    });
    await env.as.annotator.labels.review({ circuitId, target: edge, expectedVersion: 2, review: "reviewed" });
    const v = await env.as.viewer.labels.get({ circuitId, target: edge });
    expect(v.head).toMatchObject({ version: 2, review: "reviewed" });
    expect(v.revisions.map((r) => r.text)).toStrictEqual([
      "Stripes make up the abdomen.\n\nReasoning:\n1. …",
      "Stripes and fur make up the abdomen.",
    ]);
    const all = await env.as.viewer.labels.forCircuit({ circuitId });
    expect(all.edges).toContainEqual({
      layer: edge.layer,
      child: edge.child,
      parent: edge.parent,
      text: "Stripes and fur make up the abdomen.",
      review: "reviewed",
      version: 2,
    });
    // the graph carries the current explanation on that edge, and on no other
    const graph = loadGraph(env.db, circuitId)!;
    const parentRow = graph.groups.find((g) => g.layer === edge.layer && g.groupId === edge.parent)!.id;
    const childRow = graph.groups.find((g) => g.layer === edge.layer + 1 && g.groupId === edge.child)!.id;
    const explained = graph.edges.filter((e) => e.explanation != null);
    expect(explained).toHaveLength(1);
    expect(explained[0]).toMatchObject({
      source: childRow,
      target: parentRow,
      explanation: "Stripes and fur make up the abdomen.",
    });
  });

  it("validates the text and the target; markup is stored verbatim as text", async () => {
    const before = tableDump();
    await expect(
      env.as.annotator.labels.save({ circuitId, target: group, expectedVersion: 4, text: "   " }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(
      env.as.annotator.labels.save({ circuitId, target: group, expectedVersion: 4, text: "a\u0007b" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(
      env.as.annotator.labels.save({ circuitId, target: group, expectedVersion: 4, text: "x".repeat(201) }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(
      env.as.annotator.labels.save({
        circuitId,
        target: { kind: "group", layer: 0, group: 999 },
        expectedVersion: 0,
        text: "x",
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      env.as.annotator.labels.save({ circuitId: 999, target: group, expectedVersion: 0, text: "x" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      env.as.annotator.labels.save({ circuitId, target: { kind: "nope" } as never, expectedVersion: 0, text: "x" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const patches = env.db.select({ n: circuits.patchCount }).from(circuits).where(eq(circuits.id, circuitId)).get()!.n;
    await expect(
      env.as.annotator.labels.save({ circuitId, target: group, expectedVersion: 4, text: "x", evidence: [0, patches] }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining(`no patch ${patches}`),
    });
    expect(tableDump()).toBe(before);
    const r = await env.as.annotator.labels.save({
      circuitId,
      target: group,
      expectedVersion: 4,
      text: "<script>window.__x=1</script>",
      description: "<img src=x onerror=alert(1)>",
    });
    expect(r.head).toMatchObject({
      text: "<script>window.__x=1</script>",
      description: "<img src=x onerror=alert(1)>",
    });
  });

  it("lists a circuit's labels by document keys", async () => {
    const all = await env.as.viewer.labels.forCircuit({ circuitId });
    expect(all.groups.find((g) => g.layer === group.layer && g.group === group.group)).toMatchObject({
      text: "<script>window.__x=1</script>",
      version: 5,
    });
    expect(all.groups).toHaveLength(2);
  });
});

describe("word diff", () => {
  it("marks removed and added words", () => {
    expect(diffWords("yellow stripes", "black and yellow stripes")).toStrictEqual([
      { op: "add", text: "black and " },
      { op: "same", text: "yellow stripes" },
    ]);
    expect(diffWords("a b c", "a x c")).toStrictEqual([
      { op: "same", text: "a " },
      { op: "del", text: "b" },
      { op: "add", text: "x" },
      { op: "same", text: " c" },
    ]);
    expect(diffWords("", "new")).toStrictEqual([{ op: "add", text: "new" }]);
    expect(diffWords("same", "same")).toStrictEqual([{ op: "same", text: "same" }]);
  });
});
