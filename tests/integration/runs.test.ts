/** Runs end to end through the queue with the fake engine: start, progress over the subscription, resume, cancel. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { circuits, jobs, runs } from "~/db/schema";
import { circuitJobHandler } from "~/server/jobs/handlers/circuitJob";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import { Worker } from "~/server/jobs/worker";
import { CircuitInputError } from "~/server/neurflow/light";
import { fakeEngine } from "../helpers/fakeEngine";
import sharp from "sharp";
import { datasetForm, FIXTURE_IMAGES, makeZip, modelForm } from "../helpers/fixtures";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

let env: TestEnv;
let modelId: number;
let datasetId: number;
const LAYERS = ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0"];
const start = (over: Record<string, unknown> = {}) =>
  env.as.annotator.runs.start({
    modelId,
    datasetId,
    className: "bee",
    layers: LAYERS,
    tau: 3,
    k: 8,
    igSteps: 8,
    ...over,
  } as never);

beforeAll(async () => {
  env = await makeEnv();
  modelId = (await env.as.annotator.models.upload(modelForm())).id;
  datasetId = (await env.as.admin.datasets.registerFolder({ name: "fixture", path: FIXTURE_IMAGES })).id;
  env.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.kind, "validateModel")).run();
});
afterAll(() => env.close());

/** A server-side caller yields tracked events as [id, data] envelopes (SSE clients get { id, data }). */
function untrack(e: unknown): { id: string; data: { type: string; data: Record<string, unknown> } } {
  const [id, data] = e as [string, { type: string; data: Record<string, unknown> }];
  return { id, data };
}

describe("runs.start validation", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["unknown class", { className: "wasp" }, "not a class of model"],
    ["unknown layer", { layers: ["fc", "layer9"] }, "not layers of the model: layer9"],
    ["one layer", { layers: ["fc"] }, "at least two layers"],
    ["the same layer twice", { layers: ["fc", "fc"] }, "two different layers"],
    ["τ = 0", { tau: 0 }, "τ is at least 1"],
    ["k too large", { k: 5000 }, "k is at most 1000"],
    ["N not an integer", { igSteps: 2.5 }, "expected int"],
    ["k more than the class's 16 images give (16 × 59 patches)", { k: 945 }, "k = 945 is more than the 944 patches"],
    ["unknown model", { modelId: 999 }, "no model 999"],
    ["unknown dataset", { datasetId: 999 }, "no dataset 999"],
  ];
  for (const [what, over, message] of cases)
    it(`rejects: ${what}`, async () => {
      const before = env.db.select().from(runs).all().length;
      await expect(start(over)).rejects.toMatchObject({ message: expect.stringContaining(message) });
      expect(env.db.select().from(runs).all().length).toBe(before);
    });

  it("rejects a dataset whose images of the class are smaller than the model's input", async () => {
    const small = await sharp({ create: { width: 40, height: 16, channels: 3, background: "#fc0" } })
      .png()
      .toBuffer();
    // uploaded without naming a model, so the upload's size rule did not apply
    const { id: smallId } = await env.as.annotator.datasets.uploadZip(
      datasetForm(makeZip([{ name: "bee/a.png", data: small }]), "small bees"),
    );
    const before = env.db.select().from(runs).all().length;
    await expect(start({ datasetId: smallId })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("with a side of 16 px"),
    });
    expect(env.db.select().from(runs).all().length).toBe(before);
    // the model page lists each dataset with its classes (the run form offers only those)
    const listed = (await env.as.viewer.models.get({ id: modelId })).datasets;
    expect(listed.find((d) => d.id === smallId)?.classes).toStrictEqual(["bee"]);
    expect(listed.find((d) => d.id === datasetId)?.classes).toStrictEqual([
      "bee",
      "car",
      "fish",
      "ladybug",
      "sun",
      "tree",
    ]);
  });

  it("orders layers top-down from the manifest whatever the input order", async () => {
    const r = await start({ layers: ["layer3.1", "fc", "layer4.0"] });
    expect(r.layers).toStrictEqual(["fc", "layer4.0", "layer3.1"]);
    await env.as.annotator.runs.cancel({ id: r.id });
    expect((await env.as.viewer.runs.get({ id: r.id })).status).toBe("canceled");
  });
});

describe("a run the engine refuses", () => {
  it("fails at once, without retries, with the engine's message", async () => {
    const r = await start();
    const refusing = async () => async () => {
      throw new CircuitInputError('none of the 16 images is classified as "bee" by the model');
    };
    const worker = new Worker({ queue: env.queue, handlers: { circuit: circuitJobHandler(env.db, refusing) } });
    expect(await worker.runOnce()).toMatchObject({ status: "failed" });
    const job = env.db.select().from(jobs).where(eq(jobs.id, r.jobId)).get()!;
    expect(job).toMatchObject({ status: "failed", attempts: 1 });
    expect((await env.as.viewer.runs.get({ id: r.id })).error).toContain("none of the 16 images");
  });
});

describe("a run through the worker", () => {
  it("completes, stores the circuit, records per-layer timings, streams resumable progress", async () => {
    const r = await start();
    const worker = new Worker({
      queue: env.queue,
      progressIntervalMs: 0,
      handlers: { circuit: circuitJobHandler(env.db, async () => fakeEngine()) },
    });
    expect(await worker.runOnce()).toMatchObject({ status: "succeeded" });
    const run = await env.as.viewer.runs.get({ id: r.id });
    expect(run).toMatchObject({ status: "succeeded", backend: "fake", error: null });
    expect(run.layerTimings.map((t) => t.layer)).toStrictEqual([
      "fc←layer4.1",
      "layer4.1←layer4.0",
      "layer4.0←layer3.1",
      "layer3.1←layer3.0",
    ]);
    expect(run.circuitId).toBeTypeOf("number");
    const expected = await fakeEngine()(
      {
        manifestPath: "",
        images: "",
        className: "bee",
        layers: LAYERS,
        params: { preset: "default", tau: 3, k: 8, igSteps: 8 },
      },
      {},
    );
    expect(await env.as.viewer.circuits.export({ id: run.circuitId! })).toStrictEqual(expected);

    // the subscription replays every event, then ends
    const all: { id: string; data: { type: string; data: Record<string, unknown> } }[] = [];
    for await (const e of await env.as.viewer.runs.progress({ id: r.id })) all.push(untrack(e));
    expect(all.map((e) => e.data.type)).toContain("progress");
    expect(all.filter((e) => e.data.type === "checkpoint").length).toBe(4);
    expect(all.at(-1)!.data).toMatchObject({ type: "status", data: { status: "succeeded" } });
    const fractions = all.filter((e) => e.data.type === "progress").map((e) => e.data.data.fraction as number);
    expect(fractions).toStrictEqual([...fractions].sort((a, b) => a - b));
    // resuming after an event id gives exactly the rest
    const mid = all[Math.floor(all.length / 2)]!.id;
    const rest: string[] = [];
    for await (const e of await env.as.viewer.runs.progress({ id: r.id, lastEventId: mid })) rest.push(untrack(e).id);
    expect(rest).toStrictEqual(all.slice(Math.floor(all.length / 2) + 1).map((e) => e.id));
    await expect(env.as.viewer.runs.progress({ id: r.id, lastEventId: "abc" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });

  it("a worker that dies mid-run is taken over after its lease expires and resumes from the last layer", async () => {
    const r = await start({ className: "car" });
    let clock = Date.now() + 1000;
    const queue = new SqliteJobQueue(env.db, { now: () => clock });
    // worker A: stops dead after two layers (the engine throws on its 3rd layer, abandoning the lease)
    const trace: number[] = [];
    const tracing =
      (inner: ReturnType<typeof fakeEngine>): ReturnType<typeof fakeEngine> =>
      async (req, o) =>
        inner(req, {
          ...o,
          onCheckpoint: async (c) => {
            trace.push(c.layers.length);
            await o.onCheckpoint?.(c);
          },
        });
    const dying = new Worker({
      queue,
      leaseMs: 10_000,
      handlers: {
        circuit: circuitJobHandler(env.db, async () =>
          tracing(async (req, o) => {
            return fakeEngine()(req, {
              ...o,
              onCheckpoint: async (c) => {
                await o.onCheckpoint?.(c);
                if (c.layers.length === 2) await new Promise(() => {}); // hangs: the process "died"
              },
            });
          }),
        ),
      },
    });
    void dying.runOnce();
    for (let i = 0; i < 200 && trace.length < 2; i++) await new Promise((res) => setTimeout(res, 10));
    expect(trace).toStrictEqual([1, 2]);
    const job = env.db
      .select()
      .from(jobs)
      .where(eq(jobs.id, (await env.as.viewer.runs.get({ id: r.id })).jobId!))
      .get()!;
    expect((job.checkpoint as { layers: unknown[] }).layers.length).toBe(2);
    // B cannot take it while the lease holds; after expiry it resumes at layer 3
    const resumedFrom: number[] = [];
    const b = new Worker({
      queue,
      leaseMs: 10_000,
      handlers: {
        circuit: circuitJobHandler(env.db, async () => async (req, o) => {
          resumedFrom.push(o.resume?.layers.length ?? 0);
          return fakeEngine()(req, o);
        }),
      },
    });
    expect(await b.runOnce()).toBeNull();
    clock += 10_001;
    expect(await b.runOnce()).toMatchObject({ status: "succeeded" });
    expect(resumedFrom).toStrictEqual([2]);
    const run = await env.as.viewer.runs.get({ id: r.id });
    expect(run.status).toBe("succeeded");
    expect(run.layerTimings).toHaveLength(4);
    const expected = await fakeEngine()(
      {
        manifestPath: "",
        images: "",
        className: "car",
        layers: LAYERS,
        params: { preset: "default", tau: 3, k: 8, igSteps: 8 },
      },
      {},
    );
    expect(await env.as.viewer.circuits.export({ id: run.circuitId! })).toStrictEqual(expected);
    expect(env.db.select().from(circuits).where(eq(circuits.runId, r.id)).all()).toHaveLength(1);
  });

  it("an engine error is retried, then shown plainly on the run", async () => {
    const r = await start({ className: "fish" });
    env.db.update(jobs).set({ maxAttempts: 1 }).where(eq(jobs.id, r.jobId)).run();
    const worker = new Worker({
      queue: env.queue,
      handlers: {
        circuit: circuitJobHandler(env.db, async () =>
          fakeEngine({ failAt: { layer: 1, error: new Error("out of memory at layer 2") } }),
        ),
      },
    });
    expect(await worker.runOnce()).toMatchObject({ status: "failed" });
    expect(await env.as.viewer.runs.get({ id: r.id })).toMatchObject({
      status: "failed",
      error: "out of memory at layer 2",
    });
  });

  it("cancel stops a running job at its next heartbeat", async () => {
    const r = await start({ className: "sun" });
    const worker = new Worker({
      queue: env.queue,
      leaseMs: 600,
      heartbeatMs: 20,
      handlers: { circuit: circuitJobHandler(env.db, async () => fakeEngine({ layerDelayMs: 400 })) },
    });
    const running = worker.runOnce();
    await new Promise((res) => setTimeout(res, 100));
    expect(await env.as.annotator.runs.cancel({ id: r.id })).toStrictEqual({ status: "running" });
    expect(await running).toStrictEqual({ status: "canceled" });
    expect(await env.as.viewer.runs.get({ id: r.id })).toMatchObject({ status: "canceled", circuitId: null });
  });
});
