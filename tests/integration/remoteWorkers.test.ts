/**
 * Workers on other machines (issue 15): real worker processes (the fake engine) WITHOUT
 * NEURFLOW_DB, reaching the platform only through NEURFLOW_PLATFORM_URL — the web app's route
 * handlers served over real HTTP in their own process (tests/helpers/routeServer.ts) — with a
 * worker token; the queue is BullMQ on a real redis-server (append-only file, fsync always).
 * Runs spread over three workers, one SIGKILLed mid-run; a token revoked mid-run; Redis restarted
 * mid-run; a label job against the local OpenAI-compatible server, its worker SIGKILLed.
 */
import { createHash } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { circuits, jobEvents, jobs, labelRevisions, labels, workerNodes } from "~/db/schema";
import { BullmqJobQueue } from "~/server/jobs/bullmqQueue";
import { fakeEngine } from "../helpers/fakeEngine";
import { goodExplanation, goodLabel, startFakeOpenAI, type FakeOpenAI } from "../helpers/fakeOpenAI";
import { FIXTURE_IMAGES, modelForm } from "../helpers/fixtures";
import { outputOf, spawnFakeWorker, waitFor } from "../helpers/fakeWorkers";
import { runCircuit } from "../helpers/labelsFixture";
import { startPlatformServer, type PlatformServer } from "../helpers/platformServer";
import { startRedis, type RedisServer } from "../helpers/redisServer";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

const PREFIX = "remote";
let env: TestEnv;
let redis: RedisServer;
let server: PlatformServer;
let fake: FakeOpenAI;
let modelId: number;
let datasetId: number;
const children: ChildProcess[] = [];
const params = { tau: 3, k: 8, igSteps: 8 };

beforeAll(async () => {
  redis = await startRedis();
  env = await makeEnv({ jobQueue: (db) => new BullmqJobQueue(db, { url: redis.url, prefix: PREFIX, log: () => {} }) });
  fake = await startFakeOpenAI((r) =>
    r.kind === "explanation"
      ? { ...goodExplanation("Stripes make up the body."), delayMs: 100 }
      : { ...goodLabel("yellow stripes"), delayMs: 100 },
  );
  server = await startPlatformServer({
    NEURFLOW_DB: env.dbPath,
    NEURFLOW_DATA: env.storageRoot,
    NEURFLOW_QUEUE: redis.url,
    NEURFLOW_QUEUE_PREFIX: PREFIX,
    NEURFLOW_MAX_WORKER_JSON_BYTES: String(1024 * 1024),
  });
  modelId = (await env.as.annotator.models.upload(modelForm())).id;
  env.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.kind, "validateModel")).run();
  datasetId = (await env.as.admin.datasets.registerFolder({ name: "fixture", path: FIXTURE_IMAGES })).id;
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await server?.stop();
  await fake?.close();
  if (env.queue instanceof BullmqJobQueue) await env.queue.close();
  env.close();
  await redis?.close();
});

async function newToken(name: string): Promise<{ id: number; token: string }> {
  return env.as.admin.workers.createToken({ name });
}

/** A worker process that knows only the platform's address and its token (no NEURFLOW_DB, no NEURFLOW_QUEUE). */
function remoteWorker(
  token: string,
  name: string,
  opts: { trace?: string; leaseMs?: number; layerDelayMs?: number; kinds?: string; env?: Record<string, string> } = {},
): ChildProcess {
  return spawnFakeWorker(
    {
      NEURFLOW_PLATFORM_URL: server.url,
      NEURFLOW_WORKER_TOKEN: token,
      NEURFLOW_WORKER_CACHE: join(env.dir, `cache-${name}`),
      NEURFLOW_LEASE_MS: String(opts.leaseMs ?? 3000),
      FAKE_LAYER_DELAY_MS: String(opts.layerDelayMs ?? 500),
      NEURFLOW_WORKER_KINDS: opts.kinds ?? "circuit",
      ...(opts.trace ? { FAKE_TRACE_FILE: opts.trace } : {}),
      ...opts.env,
    },
    children,
    ["NEURFLOW_DB", "NEURFLOW_QUEUE", "NEURFLOW_QUEUE_PREFIX", "NEURFLOW_DATA"],
  );
}

async function startRuns(classes: string[], layers: string[]) {
  const started: { id: number; jobId: number; className: string }[] = [];
  for (const className of classes)
    started.push({
      ...(await env.as.annotator.runs.start({ modelId, datasetId, className, layers, ...params })),
      className,
    });
  return started;
}

const jobRows = (ids: number[]) => env.db.select().from(jobs).where(inArray(jobs.id, ids)).all();
const settled = (ids: number[]) => {
  const r = jobRows(ids);
  return r.every((j) => j.status !== "queued" && j.status !== "running") ? r : null;
};
const traceLines = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").trim().split("\n").filter(Boolean) : []);
const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

async function expectUndisturbedCircuits(started: { id: number; className: string }[], layers: string[]) {
  for (const r of started) {
    const stored = env.db.select().from(circuits).where(eq(circuits.runId, r.id)).all();
    expect(stored, `circuits of run ${r.id}`).toHaveLength(1);
    const undisturbed = await fakeEngine()(
      { manifestPath: "", images: "", className: r.className, layers, params: { preset: "default", ...params } },
      {},
    );
    expect(await env.as.viewer.circuits.export({ id: stored[0]!.id })).toStrictEqual(undisturbed);
  }
}

describe("circuit runs on remote workers", () => {
  it("spreads six runs over three remote workers; one SIGKILLed mid-run: another resumes its run from the checkpoint, every run finishes once with its undisturbed circuit; files are fetched once per worker and verified", async () => {
    const { token } = await newToken("gpu-box-1");
    const layers = ["fc", "layer4.1", "layer4.0", "layer3.1"];
    const pairs = layers.length - 1;
    const classes = ["bee", "car", "fish", "ladybug", "sun", "tree"];
    const started = await startRuns(classes, layers);
    const jobIds = started.map((r) => r.jobId);
    const trace = join(env.dir, "trace-spread.txt");

    const a = remoteWorker(token, "a", { trace });
    const b = remoteWorker(token, "b", { trace });
    const c = remoteWorker(token, "c", { trace });
    const victim = await waitFor("a checkpoint of a run that worker A holds", () =>
      jobRows(jobIds).find((j) => {
        const done = (j.checkpoint as { layers?: unknown[] } | null)?.layers?.length ?? 0;
        return j.status === "running" && j.leaseOwner?.includes(`:${a.pid}:`) && done >= 1 && done < pairs;
      }),
    );
    a.kill("SIGKILL");
    const all = await waitFor("every run to finish", () => settled(jobIds), 120_000);
    expect(all.map((j) => j.status)).toStrictEqual(classes.map(() => "succeeded"));
    expect(all.find((j) => j.id === victim.id)!.attempts).toBe(2);
    const events = env.db.select().from(jobEvents).where(eq(jobEvents.jobId, victim.id)).all();
    expect(
      events.filter((e) => e.type === "status" && e.data.status === "running").map((e) => e.data.resumed),
    ).toStrictEqual([false, true]);

    // nothing computed twice but the layer pair in progress at the kill; work spread over the workers
    const traced = traceLines(trace);
    expect(traced.length).toBeGreaterThanOrEqual(classes.length * pairs);
    expect(traced.length).toBeLessThanOrEqual(classes.length * pairs + 1);
    expect(new Set(traced.map((l) => l.split(" ")[0])).size).toBeGreaterThanOrEqual(2);
    const succeeded = env.db.select().from(jobEvents).where(inArray(jobEvents.jobId, jobIds)).all();
    expect(succeeded.filter((e) => e.type === "status" && e.data.status === "succeeded")).toHaveLength(classes.length);
    await expectUndisturbedCircuits(started, layers);

    // each surviving worker fetched every file once (one blob per checksum, verified) and reused the model after
    let looked = 0;
    for (const [w, name] of [
      [b, "b"],
      [c, "c"],
    ] as const) {
      const stats = [...outputOf(w).matchAll(/cache fetched=(\d+) reused=(\d+)/g)].map((m) => [
        Number(m[1]),
        Number(m[2]),
      ]);
      if (stats.length === 0) continue; // it ran nothing
      const [fetched, reused] = stats.at(-1)!;
      const blobs = readdirSync(join(env.dir, `cache-${name}`, "blobs")).filter((f) => !f.startsWith("."));
      expect(blobs).toHaveLength(fetched!);
      for (const f of blobs)
        expect(
          createHash("sha256")
            .update(readFileSync(join(env.dir, `cache-${name}`, "blobs", f)))
            .digest("hex"),
        ).toBe(f);
      expect(reused).toBeGreaterThanOrEqual(2 * (stats.length - 1)); // the model's two files on every later run
      looked++;
    }
    expect(looked).toBeGreaterThanOrEqual(1);

    // the admin's worker list: three registered, with host and backend
    const listed = await env.as.admin.workers.list();
    const mine = listed.filter((w) => [a, b, c].some((p) => w.id.includes(`:${p.pid}:`)));
    expect(mine).toHaveLength(3);
    for (const w of mine) expect(w).toMatchObject({ backend: "fake", tokenName: "gpu-box-1", tokenRevoked: false });
    b.kill("SIGTERM");
    c.kill("SIGTERM");
  }, 180_000);

  it("a revoked token is refused at the worker's next call: the worker stops and another resumes its run from the checkpoint", async () => {
    const first = await newToken("gpu-box-2");
    const second = await newToken("gpu-box-3");
    const layers = ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0"];
    const [run] = await startRuns(["bee"], layers);
    const d = remoteWorker(first.token, "d", { layerDelayMs: 1200 });
    let stderr = "";
    d.stderr!.on("data", (x) => (stderr += x));
    await waitFor("worker D's first checkpoint", () => {
      const j = jobRows([run!.jobId])[0]!;
      return (
        j.leaseOwner?.includes(`:${d.pid}:`) &&
        ((j.checkpoint as { layers?: unknown[] } | null)?.layers?.length ?? 0) >= 1
      );
    });
    await env.as.admin.workers.revokeToken({ id: first.id });
    await waitFor("worker D to stop", () => exited(d), 20_000);
    expect(d.exitCode).toBe(3);
    expect(stderr).toMatch(/revoked by an admin/);
    const atStop = jobRows([run!.jobId])[0]!;
    expect(atStop.status).toBe("running");

    // the revoked token opens nothing any more, not even hello
    const res = await fetch(`${server.url}/api/internal/worker/rpc/hello`, {
      method: "POST",
      headers: { authorization: `Bearer ${first.token}`, "content-type": "application/json" },
      body: JSON.stringify({ workerId: "x:1:y", host: "x", backend: "fake", kinds: ["circuit"] }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "revoked" });

    const e = remoteWorker(second.token, "e", { layerDelayMs: 200 });
    const done = await waitFor("the run to finish on worker E", () => settled([run!.jobId]), 60_000);
    expect(done[0]).toMatchObject({ status: "succeeded", attempts: 2 });
    const events = env.db.select().from(jobEvents).where(eq(jobEvents.jobId, run!.jobId)).all();
    expect(
      events.filter((x) => x.type === "status" && x.data.status === "running").map((x) => x.data.resumed),
    ).toStrictEqual([false, true]);
    await expectUndisturbedCircuits([run!], layers);
    const listed = await env.as.admin.workers.list();
    expect(listed.find((w) => w.id.includes(`:${d.pid}:`))).toMatchObject({ tokenRevoked: true });
    e.kill("SIGTERM");
  }, 120_000);

  it("a Redis restart during runs on remote workers loses no job: every run succeeds on its first attempt with its undisturbed circuit, no layer pair computed twice", async () => {
    const { token } = await newToken("gpu-box-4");
    const layers = ["fc", "layer4.1", "layer4.0", "layer3.1"];
    const started = await startRuns(["fish", "sun", "tree"], layers);
    const jobIds = started.map((r) => r.jobId);
    const trace = join(env.dir, "trace-redis.txt");
    const f = remoteWorker(token, "f", { trace, leaseMs: 10_000 });
    const g = remoteWorker(token, "g", { trace, leaseMs: 10_000 });
    await waitFor("a first checkpoint", () => jobRows(jobIds).some((j) => j.checkpoint != null));
    await redis.stop("SIGTERM");
    await new Promise((r) => setTimeout(r, 1000));
    await redis.start();
    const all = await waitFor("every run to finish", () => settled(jobIds), 120_000);
    expect(all.map((j) => [j.status, j.attempts])).toStrictEqual(started.map(() => ["succeeded", 1]));
    const traced = traceLines(trace);
    expect(traced).toHaveLength(started.length * (layers.length - 1));
    await expectUndisturbedCircuits(started, layers);
    f.kill("SIGTERM");
    g.kill("SIGTERM");
  }, 180_000);
});

describe("a label job on remote workers", () => {
  it("labels a circuit against the local OpenAI-compatible server through the API; its worker SIGKILLed mid-job, another finishes it: every group labeled exactly once", async () => {
    const { token } = await newToken("label-box");
    const circuitId = await runCircuit(env, { seed: 5 });
    const saved = process.env.OPENAI_BASE_URL;
    process.env.OPENAI_BASE_URL = fake.url; // labels.start refuses without an endpoint
    let jobId: number;
    try {
      jobId = (await env.as.annotator.labels.start({ circuitId })).jobId;
    } finally {
      if (saved === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved;
    }
    const labelEnv = {
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: "test-key",
      NEURFLOW_LABEL_MODEL: "fake-vlm-1",
      NEURFLOW_LABEL_CONCURRENCY: "1",
      NEURFLOW_LABEL_BACKOFF_MS: "10",
      NEURFLOW_LABEL_EDGES_PER_PARENT: "1",
      NEURFLOW_LABEL_PATCHES: "4",
    };
    const groups = env.db.$client
      .prepare(
        "select count(*) as n from neuron_groups g join circuit_layers l on l.id = g.layer_id where l.circuit_id = ?",
      )
      .get(circuitId) as { n: number };
    const stored = () => env.db.select().from(labels).where(eq(labels.circuitId, circuitId)).all();
    const h = remoteWorker(token, "h", { kinds: "label", leaseMs: 3000, env: labelEnv });
    await waitFor("two labels stored by worker H", () => stored().length >= 2, 60_000);
    h.kill("SIGKILL");
    const atKill = stored().length;
    expect(atKill).toBeLessThan(groups.n);
    const i = remoteWorker(token, "i", { kinds: "label", leaseMs: 3000, env: labelEnv });
    const [job] = await waitFor("the label job to finish", () => settled([jobId!]), 90_000);
    expect(job).toMatchObject({ status: "succeeded", attempts: 2 });
    // every group has one label, made by the model in one revision: nothing labeled twice, nothing lost
    const heads = stored();
    expect(heads).toHaveLength(groups.n);
    for (const l of heads) {
      expect(l).toMatchObject({ text: "yellow stripes", version: 1 });
      const revs = env.db
        .select()
        .from(labelRevisions)
        .where(and(eq(labelRevisions.labelId, l.id)))
        .all();
      expect(revs).toHaveLength(1);
      expect(revs[0]).toMatchObject({ source: "model", modelName: "fake-vlm-1" });
    }
    const result = job!.result as { labeled: number; skipped: number; failed: unknown[] };
    expect(result.failed).toStrictEqual([]);
    expect(result.labeled + result.skipped).toBe(groups.n);
    expect(result.skipped).toBeGreaterThanOrEqual(atKill);
    // the model saw patch grids drawn from the images the worker fetched (PNG images in every request)
    expect(
      fake.requests.every((r) => r.images.length >= 1 && r.images.every((u) => u.startsWith("data:image/png"))),
    ).toBe(true);
    i.kill("SIGTERM");
    expect(env.db.select().from(workerNodes).all().length).toBeGreaterThan(0);
  }, 150_000);
});
