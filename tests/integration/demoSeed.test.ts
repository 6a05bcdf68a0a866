/**
 * The demo's seeding (`scripts/demoSeed.ts`, what `npm run demo` puts in the database) on a real
 * SQLite file: the four toy-world models of this checkout (demo, its control, world 5, its
 * control), the demo images and 16 generated world-5 scenes per class, one queued bee run per
 * model — each control on its model's images — and the home page's story finds them all. Run again
 * it reuses everything (no new model, dataset or run).
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemo } from "../../scripts/demoSeed";
import { demoStory } from "~/server/demo/story";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

const ROOT = resolve(import.meta.dirname, "..", "..");
let env: TestEnv;

beforeAll(async () => {
  env = await makeEnv();
}, 60_000);
afterAll(() => env?.close());

describe("demo seeding", () => {
  it("registers the four models with their images and queues one bee run each; idempotent", {
    timeout: 180_000,
  }, async () => {
    const first = await seedDemo(env.as.admin, { root: ROOT, dataDir: env.storageRoot });
    expect(first.demo.name).toBe("toyworld (demo)");
    expect(first.biasedRunId).not.toBeNull();
    expect(first.biasedControlRunId).not.toBeNull();
    expect(first.controlRunId).not.toBeNull();

    const models = await env.as.admin.models.list();
    expect(models.map((m) => m.name).sort()).toEqual(
      [
        "toyworld (demo)",
        "toyworld-control: cue-free control (demo)",
        "toyworld5: flowers beside the bees (demo)",
        "toyworld5-control: cue-free control (demo)",
      ].sort(),
    );
    const runs = await env.as.admin.runs.list({});
    expect(runs.length).toBe(4);
    expect(runs.every((r) => r.className === "bee" && r.status === "queued")).toBe(true);
    // each control runs on its model's images
    const byId = new Map(runs.map((r) => [r.id, r]));
    const datasetOf = (id: number | null) =>
      env.db.$client.prepare("select dataset_id as d from runs where id = ?").get(id) as { d: number };
    expect(datasetOf(first.controlRunId).d).toBe(datasetOf(first.runId).d);
    expect(datasetOf(first.biasedControlRunId).d).toBe(datasetOf(first.biasedRunId).d);
    expect(datasetOf(first.biasedRunId).d).not.toBe(datasetOf(first.runId).d);
    expect(byId.get(first.biasedControlRunId!)!.modelName).toBe("toyworld5-control: cue-free control (demo)");

    // the home page's story: every model found, each with its queued run
    const story = demoStory(env.db)!;
    expect(story).not.toBeNull();
    expect(story.flowers?.run?.id).toBe(first.biasedRunId);
    expect(story.flowersControl?.run?.id).toBe(first.biasedControlRunId);
    expect(story.demo?.run?.id).toBe(first.runId);
    expect(story.demoControl?.run?.id).toBe(first.controlRunId);
    expect(story.flowers?.circuitId).toBeNull();

    const again = await seedDemo(env.as.admin, { root: ROOT, dataDir: env.storageRoot });
    expect(again).toEqual(first);
    expect((await env.as.admin.models.list()).length).toBe(4);
    expect((await env.as.admin.datasets.list()).length).toBe(2);
    expect((await env.as.admin.runs.list({})).length).toBe(4);
  });
});
