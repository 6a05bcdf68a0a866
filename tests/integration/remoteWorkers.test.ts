/**
 * Workers on other machines (issue 15): real worker processes (the fake engine) WITHOUT
 * NEURFLOW_DB, reaching the platform only through NEURFLOW_PLATFORM_URL — the web app's route
 * handlers served over real HTTP in their own process (tests/helpers/routeServer.ts) — with a
 * worker token; the queue is BullMQ on a real redis-server (append-only file, fsync always).
 * Runs spread over three workers, one SIGKILLed mid-run; a token revoked mid-run; Redis restarted
 * mid-run; a label job against the local OpenAI-compatible server, its worker SIGKILLed.
 */
import { createHash } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { circuits, evaluations, jobEvents, jobs, labelRevisions, labels, models, workerNodes } from "~/db/schema";
import { loadGraph } from "~/server/circuits/graph";
import { heatmapPath } from "~/server/circuits/renders";
import { imageSetDir } from "~/server/evaluations/store";
import { computeHeatmaps } from "~/server/heatmaps/compute";
import { evaluationJobHandler } from "~/server/jobs/handlers/evaluationJob";
import { Worker } from "~/server/jobs/worker";
import { BullmqJobQueue } from "~/server/jobs/bullmqQueue";
import { fakeEngine } from "../helpers/fakeEngine";
import { goodExplanation, goodLabel, startFakeOpenAI, type FakeOpenAI } from "../helpers/fakeOpenAI";
import { FIXTURE_IMAGES, modelForm } from "../helpers/fixtures";
import { outputOf, spawnFakeWorker, waitFor } from "../helpers/fakeWorkers";
import { runCircuit } from "../helpers/labelsFixture";
import { startPlatformServer, type PlatformServer } from "../helpers/platformServer";
import { startRedis, type RedisServer } from "../helpers/redisServer";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, toyCircuit } from "../helpers/viewerSeed";

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
    // the tests below refuse many bad tokens from 127.0.0.1; the limit itself is tested on a server of its own
    NEURFLOW_WORKER_TOKEN_FAILS: "1000",
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

/** server/jobs/workerMain.ts (the real engine's backend) with exactly `vars` of ours (no NEURFLOW_DB unless given). */
function workerMain(
  vars: Record<string, string>,
  cache = "cache-main",
): {
  child: ChildProcess;
  out: () => string;
  done: Promise<number | null>;
} {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith("NEURFLOW_") || k.startsWith("OPENAI_")) delete base[k];
  const child = spawn(process.execPath, ["--import", "tsx", join("server", "jobs", "workerMain.ts")], {
    cwd: process.cwd(),
    env: { ...base, NEURFLOW_BACKEND: "wasm", NEURFLOW_WORKER_CACHE: join(env.dir, cache), ...vars },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const done = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, out: () => out, done };
}

/** The engine's circuit of "bee" on the toy model, stored once for the heatmap and evaluation tests (its run on the fixture dataset). */
let toySeeded: Promise<number> | null = null;
function toyCircuitId(): Promise<number> {
  toySeeded ??= (async () => {
    env.db.update(models).set({ status: "ready" }).where(eq(models.id, modelId)).run();
    return seedCircuit(env.db, { modelId, datasetId }, await toyCircuit("bee")).circuitId;
  })();
  return toySeeded;
}

/** A result without its timings (they differ between two runs of the same computation). */
function withoutSeconds(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === "seconds" ? undefined : v)));
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

describe("failed worker-token attempts", () => {
  it("block the address after NEURFLOW_WORKER_TOKEN_FAILS refusals (429 before the token is looked up; a good token from there too), not other addresses; counted in Redis, so a restarted web process still blocks", async () => {
    const serverEnv = {
      NEURFLOW_DB: env.dbPath,
      NEURFLOW_DATA: env.storageRoot,
      NEURFLOW_QUEUE: redis.url,
      NEURFLOW_QUEUE_PREFIX: "remote-rl",
      NEURFLOW_TRUST_PROXY: "1",
      NEURFLOW_WORKER_TOKEN_FAILS: "5",
      NEURFLOW_WORKER_TOKEN_BLOCK_S: "600",
    };
    let guarded = await startPlatformServer(serverEnv);
    const { token } = await newToken("rate-limit-box");
    const hello = (from: string, bearer: string, workerId = "rl:1:aaaaaa") =>
      fetch(`${guarded.url}/api/internal/worker/rpc/hello`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${bearer}`, "x-forwarded-for": from },
        body: JSON.stringify({ workerId, host: "rl", backend: "fake", kinds: ["circuit"] }),
      });
    const attacker = "203.0.113.9";
    try {
      for (let i = 0; i < 5; i++) {
        const r = await hello(attacker, `nfw_${String(i).repeat(43)}`);
        expect(r.status, `attempt ${i + 1}`).toBe(401);
      }
      const blocked = await hello(attacker, `nfw_${"z".repeat(43)}`);
      expect(blocked.status).toBe(429);
      expect(await blocked.json()).toMatchObject({
        code: "rate_limited",
        error: expect.stringMatching(/bad worker token/),
      });
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(Number(blocked.headers.get("retry-after"))).toBeLessThanOrEqual(600);
      // a blocked address is refused whatever it sends: the token is not even looked up
      const usedBefore = env.db.$client
        .prepare("select last_used_at from worker_tokens where name = ?")
        .get("rate-limit-box");
      expect((await hello(attacker, token)).status).toBe(429);
      expect(
        env.db.$client.prepare("select last_used_at from worker_tokens where name = ?").get("rate-limit-box"),
      ).toStrictEqual(usedBefore);
      // a worker on another address is not affected
      const good = await hello("203.0.113.10", token);
      expect(good.status, await good.clone().text()).toBe(200);

      // the counts are in Redis: a restarted web process still blocks the address
      await guarded.stop();
      guarded = await startPlatformServer(serverEnv);
      expect((await hello(attacker, token)).status).toBe(429);
      expect((await hello("203.0.113.10", token)).status).toBe(200);
    } finally {
      await guarded.stop();
    }
  }, 60_000);
});

describe("heatmap and evaluation jobs on remote workers", () => {
  it("a remote worker (no database, the real worker main) computes a group's IG heatmaps and three evaluations, storing exactly what a local worker stores", async () => {
    const circuitId = await toyCircuitId();
    const { initBackend } = await import("~/server/neurflow");
    const backend = (await initBackend()).name;
    const graph = loadGraph(env.db, circuitId)!;
    // the group with the fewest concept patches (IG of every patch is the slow part)
    const group = graph.groups
      .filter((g) => g.patches.length > 0)
      .sort((a, b) => a.patches.length - b.patches.length || a.id - b.id)[0]!;

    // the local worker's results: heatmaps into another folder, evaluations through a local handler on the same queue
    const refRoot = mkdtempSync(join(env.dir, "heat-ref-"));
    const localHeat = await computeHeatmaps(env.db, refRoot, circuitId, group.id);
    expect(localHeat.patches).toEqual(group.patches);
    const local = new Worker({
      queue: env.queue,
      handlers: { evaluation: evaluationJobHandler(env.db, env.storageRoot) },
      leaseMs: 120_000,
    });
    // a dataset whose "ladybug" folder holds two bee images: false positives of the bee circuit
    const fpDir = mkdtempSync(join(env.dir, "fp-"));
    const bees = readdirSync(join(FIXTURE_IMAGES, "bee")).sort().slice(-2);
    mkdirSync(join(fpDir, "ladybug"));
    mkdirSync(join(fpDir, "bee"));
    for (const f of bees) copyFileSync(join(FIXTURE_IMAGES, "bee", f), join(fpDir, "ladybug", `x-${f}`));
    for (const f of readdirSync(join(FIXTURE_IMAGES, "ladybug")).sort().slice(0, 2))
      copyFileSync(join(FIXTURE_IMAGES, "ladybug", f), join(fpDir, "ladybug", f));
    copyFileSync(join(FIXTURE_IMAGES, "bee", bees[0]!), join(fpDir, "bee", bees[0]!));
    const fp = await env.as.admin.datasets.registerFolder({ name: "remote false positives", path: fpDir });
    const start = async (request: Parameters<TestEnv["as"]["annotator"]["evaluations"]["start"]>[0]["request"]) =>
      (await env.as.annotator.evaluations.start({ circuitId, request })).jobId;
    const resultOf = (jobId: number) => env.db.select().from(evaluations).where(eq(evaluations.jobId, jobId)).get();
    const runLocally = async (jobId: number) => {
      expect(await local.runOnce()).toMatchObject({ status: "succeeded" });
      return resultOf(jobId)!;
    };
    type Request = Parameters<typeof start>[0];
    const faithfulness: Request = { kind: "faithfulness", params: { thresholds: [0, 0.4, 1], draws: 1 } };
    const debug: Request = {
      kind: "imageDebug",
      params: { layerIndex: 1, topCrops: 2 },
      falsePositives: { datasetId: fp.id, limit: 4 },
    };
    const localFaith = await runLocally(await start(faithfulness));
    const localDebug = await runLocally(await start(debug));
    const masking: Request = {
      kind: "groupMasking",
      params: { layerIndex: 1, groups: "core", draws: 2, topPatches: 2, images: { debugEvaluation: localDebug.id } },
    };
    const localMask = await runLocally(await start(masking));

    // the same four jobs, queued for a remote worker of the real worker main (this process's backend)
    const jobIds = [
      (await env.as.viewer.heatmaps.request({ id: circuitId, group: group.id })).jobId,
      await start(faithfulness),
      await start(debug),
      await start(masking),
    ];
    const { token } = await newToken("heat-eval-box");
    const w = workerMain(
      {
        NEURFLOW_PLATFORM_URL: server.url,
        NEURFLOW_WORKER_TOKEN: token,
        NEURFLOW_WORKER_KINDS: "heatmaps,evaluation",
        NEURFLOW_BACKEND: backend,
      },
      "cache-heat-eval",
    );
    const line = await waitFor("the start line", () => /started: .*\n/.exec(w.out())?.[0], 60_000);
    expect(line).toMatch(/kinds heatmaps, evaluation;/);
    const done = await waitFor("the four jobs", () => settled(jobIds), 240_000);
    expect(
      done.map((j) => [j.status, j.error]),
      w.out(),
    ).toStrictEqual(jobIds.map(() => ["succeeded", null]));
    expect(done.every((j) => j.leaseOwner == null || j.leaseOwner.includes(`:${w.child.pid}:`))).toBe(true);
    const ran = env.db.select().from(jobEvents).where(inArray(jobEvents.jobId, jobIds)).all();
    expect(
      new Set(ran.filter((e) => e.type === "status" && e.data.status === "running").map((e) => String(e.data.worker))),
    ).toStrictEqual(new Set([expect.stringContaining(`:${w.child.pid}:`)]));

    // heatmaps: byte for byte the local worker's PNGs, listed as ready
    for (const idx of group.patches) {
      const remote = readFileSync(heatmapPath(env.storageRoot, circuitId, group.id, idx));
      expect(remote.equals(readFileSync(heatmapPath(refRoot, circuitId, group.id, idx))), `patch ${idx}`).toBe(true);
    }
    expect((await env.as.viewer.heatmaps.status({ id: circuitId, group: group.id })).ready).toEqual(group.patches);

    // evaluations: the local results (less timings; the false positives' image set is a new one, with the same pixels)
    const [, rFaith, rDebug, rMask] = jobIds.map((id) => resultOf(id));
    for (const [remote, mine] of [
      [rFaith, localFaith],
      [rMask, localMask],
    ] as const) {
      expect(remote).toBeDefined();
      expect({
        ...remote,
        id: 0,
        jobId: 0,
        createdAt: 0,
        seconds: 0,
        result: withoutSeconds(remote!.result),
      }).toStrictEqual({
        ...mine,
        id: 0,
        jobId: 0,
        createdAt: 0,
        seconds: 0,
        result: withoutSeconds(mine.result),
      });
    }
    const setOf = (r: typeof localDebug) => (r.result as { set: string }).set;
    expect(setOf(rDebug!)).not.toBe(setOf(localDebug));
    expect(withoutSeconds({ ...(rDebug!.result as object), set: "" })).toStrictEqual(
      withoutSeconds({ ...(localDebug.result as object), set: "" }),
    );
    expect(rDebug!.params).toStrictEqual(localDebug.params);
    const localSet = imageSetDir(env.storageRoot, circuitId, setOf(localDebug));
    const remoteSet = imageSetDir(env.storageRoot, circuitId, setOf(rDebug!));
    expect(readdirSync(remoteSet).sort()).toEqual(readdirSync(localSet).sort());
    for (const f of readdirSync(localSet))
      expect(readFileSync(join(remoteSet, f)).equals(readFileSync(join(localSet, f))), f).toBe(true);
    expect((rFaith!.result as { kind: string }).kind).toBe("faithfulness");
    expect(rMask!.createdBy).toBe(localMask.createdBy);
    w.child.kill("SIGTERM");
    expect(await w.done).toBe(0);
  }, 300_000);
});

describe("the internal worker API against a caller it should refuse", () => {
  const api = (path: string) => `${server.url}/api/internal/worker${path}`;
  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(api(path), {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  let token: string;
  let auth: Record<string, string>;
  const workerId = "tester:1:abcdef";
  beforeAll(async () => {
    token = (await newToken("api-tests")).token;
    auth = { authorization: `Bearer ${token}` };
    const hello = await post("/rpc/hello", { workerId, host: "tester", backend: "fake", kinds: ["circuit"] }, auth);
    expect(hello.status).toBe(200);
    expect(await hello.json()).toMatchObject({ queueOk: true });
  });

  function snapshot(): string {
    return ["jobs", "runs", "circuits", "labels", "models"]
      .map((t) => JSON.stringify(env.db.$client.prepare(`select * from ${t}`).all()))
      .join("\n");
  }

  it("refuses calls without a worker token: none, a user's session cookie, a malformed, an unknown one", async () => {
    const before = snapshot();
    const body = { workerId, kinds: ["circuit"], leaseMs: 5000 };
    const cases: [Record<string, string>, string][] = [
      [{}, "unauthorized"],
      [{ cookie: `neurflow_session=${env.tokens.admin}` }, "unauthorized"],
      [{ authorization: `Bearer ${env.tokens.admin}` }, "unauthorized"],
      [{ authorization: "Bearer nfw_short" }, "unauthorized"],
      [{ authorization: `Bearer nfw_${"A".repeat(43)}` }, "unauthorized"],
      [{ authorization: `Basic ${Buffer.from("admin:admin-password").toString("base64")}` }, "unauthorized"],
    ];
    for (const [headers, code] of cases) {
      const r = await post("/rpc/claim", body, headers);
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(await r.json()).toMatchObject({ code });
      const f = await fetch(api(`/files/model/${modelId}/manifest.json`), { headers });
      expect(f.status).toBe(401);
    }
    expect(snapshot()).toBe(before);
  });

  it("a worker token opens no user procedure and no user file route", async () => {
    for (const path of [
      "/api/trpc/auth.me",
      "/api/trpc/users.list",
      "/api/trpc/workers.list",
      "/api/trpc/models.list",
    ]) {
      const r = await fetch(`${server.url}${path}`, { headers: auth });
      const text = await r.text();
      if (path === "/api/trpc/auth.me") {
        expect(r.status).toBe(200);
        expect(text).toMatch(/"user":null/); // nobody signed in
      } else expect(r.status, `${path}: ${text}`).toBe(401);
    }
    const m = await fetch(`${server.url}/api/trpc/runs.start`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ json: { modelId, datasetId, className: "bee", layers: ["fc", "layer4.1"] } }),
    });
    expect(m.status).toBe(401);
  });

  it("validates every call: unknown calls, wrong methods, non-JSON, bad fields, another token's worker id, an invalid circuit — nothing changes", async () => {
    const before = snapshot();
    const expectRefused = async (r: Response, status: number, code: string, match?: RegExp) => {
      const body = (await r.json()) as { error: string; code: string };
      expect(r.status, body.error).toBe(status);
      expect(body.code).toBe(code);
      if (match) expect(body.error).toMatch(match);
    };
    await expectRefused(await post("/rpc/dropTables", { workerId }, auth), 404, "not_found");
    await expectRefused(await fetch(api("/rpc/claim"), { headers: auth }), 405, "bad_request");
    await expectRefused(await post("/rpc/claim", "{not json", auth), 400, "bad_request", /not JSON/);
    await expectRefused(
      await post("/rpc/claim", { workerId, kinds: ["circuit"], leaseMs: "soon" }, auth),
      400,
      "bad_request",
      /leaseMs/,
    );
    await expectRefused(
      await post("/rpc/claim", { workerId, kinds: ["mining"], leaseMs: 5000 }, auth),
      400,
      "bad_request",
      /kinds/,
    );
    await expectRefused(
      await post("/rpc/claim", { workerId, kinds: ["circuit"], leaseMs: 5000, extra: 1 }, auth),
      400,
      "bad_request",
    );
    await expectRefused(
      await post("/rpc/claim", { workerId: "has space", kinds: ["circuit"], leaseMs: 5000 }, auth),
      400,
      "bad_request",
      /workerId/,
    );
    await expectRefused(
      await post("/rpc/renew", { workerId, jobId: -1, leaseMs: 5000 }, auth),
      400,
      "bad_request",
      /jobId/,
    );
    await expectRefused(
      await post("/rpc/claim", { workerId: "someone-else:2:x", kinds: ["circuit"], leaseMs: 5000 }, auth),
      403,
      "bad_request",
      /did not register with this token/,
    );
    await expectRefused(
      await post("/rpc/updateRun", { workerId, runId: 1, patch: { modelId: 99 } }, auth),
      400,
      "bad_request",
      /patch/,
    );
    await expectRefused(
      await post("/rpc/setModelStatus", { workerId, modelId, status: "validating", message: "x" }, auth),
      400,
      "bad_request",
      /status/,
    );
    expect(snapshot()).toBe(before);
    const [run] = await startRuns(["tree"], ["fc", "layer4.1"]);
    await env.as.annotator.runs.cancel({ id: run!.id });
    const before2 = snapshot();
    await expectRefused(
      await post(
        "/rpc/storeCircuit",
        { workerId, runId: run!.id, circuit: { format: "neurflow-circuit/1", layers: "all" } },
        auth,
      ),
      400,
      "bad_request",
      /neurflow-circuit\/1/,
    );
    await expectRefused(
      await post(
        "/rpc/labelSave",
        {
          workerId,
          circuitId: 1,
          target: { kind: "group", layer: 0, group: 0 },
          revision: { expectedVersion: 0, text: "x", authorId: 1 },
        },
        auth,
      ),
      400,
      "bad_request",
    );
    expect(snapshot()).toBe(before2);
  });

  it("a finished circuit is stored once even when two workers store it for the same run over HTTP", async () => {
    const [r] = await startRuns(["car"], ["fc", "layer4.1"]);
    const doc = await fakeEngine()(
      {
        manifestPath: "",
        images: "",
        className: "car",
        layers: ["fc", "layer4.1"],
        params: { preset: "default", ...params },
      },
      {},
    );
    const answers = await Promise.all(
      [0, 1, 2].map(() =>
        post("/rpc/storeCircuit", { workerId, runId: r!.id, circuit: doc }, auth).then((x) => x.json()),
      ),
    );
    const ids = new Set(answers.map((a) => (a as { circuitId: number }).circuitId));
    expect(ids.size).toBe(1);
    expect(env.db.select().from(circuits).where(eq(circuits.runId, r!.id)).all()).toHaveLength(1);
    await env.as.annotator.runs.cancel({ id: r!.id });
  });

  it("heatmap and evaluation writes: only for a job of that kind this worker holds, for its payload's circuit and group, at the model's size — nothing stored otherwise", async () => {
    const circuitId = await toyCircuitId();
    const graph = loadGraph(env.db, circuitId)!;
    const group = graph.groups.filter((g) => g.patches.length > 0).at(-1)!;
    const S = env.db.select().from(circuits).where(eq(circuits.id, circuitId)).get()!.modelInputSize;
    const expectRefused = async (r: Response, status: number, code: string, match?: RegExp) => {
      const body = (await r.json()) as { error: string; code: string };
      expect(r.status, body.error).toBe(status);
      expect(body.code).toBe(code);
      if (match) expect(body.error).toMatch(match);
    };
    const heatFiles = () =>
      group.patches.filter((i) => existsSync(heatmapPath(env.storageRoot, circuitId, group.id, i)));
    const evaluationCount = () => env.db.select().from(evaluations).all().length;
    const before = { heat: heatFiles(), evaluations: evaluationCount() };
    const rgba = Buffer.alloc(S * S * 4, 7).toString("base64");

    // a job this worker does not hold (queued, nobody's lease)
    const heatJob = (await env.as.viewer.heatmaps.request({ id: circuitId, group: group.id })).jobId;
    await expectRefused(
      await post("/rpc/storeHeatmap", { workerId, jobId: heatJob, idx: group.patches[0], rgba }, auth),
      409,
      "not_held",
    );
    // held now: claimed through the API
    const claimed = await post("/rpc/claim", { workerId, kinds: ["heatmaps"], leaseMs: 60_000 }, auth);
    expect(((await claimed.json()) as { id: number }).id).toBe(heatJob);
    const notInGroup = graph.groups.flatMap((g) => g.patches).find((i) => !group.patches.includes(i)) ?? 1_000_000;
    await expectRefused(
      await post("/rpc/storeHeatmap", { workerId, jobId: heatJob, idx: notInGroup, rgba }, auth),
      400,
      "bad_request",
      /not a concept patch of group/,
    );
    await expectRefused(
      await post(
        "/rpc/storeHeatmap",
        { workerId, jobId: heatJob, idx: group.patches[0], rgba: Buffer.alloc(S * S * 3).toString("base64") },
        auth,
      ),
      400,
      "bad_request",
      new RegExp(`${S * S * 3} bytes, expected ${S * S * 4}`),
    );
    await expectRefused(
      await post("/rpc/storeHeatmap", { workerId, jobId: heatJob, idx: group.patches[0], rgba: "not base64!" }, auth),
      400,
      "bad_request",
      /rgba/,
    );
    await expectRefused(
      await post(
        "/rpc/storeHeatmap",
        { workerId, jobId: heatJob, idx: group.patches[0], rgba, circuitId: circuitId + 1 },
        auth,
      ),
      400,
      "bad_request",
    );
    // an evaluation write on the heatmaps job, and on an evaluation job it holds but with the wrong kind or no false positives
    await expectRefused(
      await post(
        "/rpc/storeEvaluation",
        { workerId, jobId: heatJob, params: {}, result: { kind: "faithfulness" }, seconds: 1 },
        auth,
      ),
      409,
      "not_held",
    );
    const evalJob = (
      await env.as.annotator.evaluations.start({ circuitId, request: { kind: "faithfulness", params: { draws: 0 } } })
    ).jobId;
    const claimedEval = await post("/rpc/claim", { workerId, kinds: ["evaluation"], leaseMs: 60_000 }, auth);
    expect(((await claimedEval.json()) as { id: number }).id).toBe(evalJob);
    await expectRefused(
      await post(
        "/rpc/storeEvaluation",
        { workerId, jobId: evalJob, params: {}, result: { kind: "optimality" }, seconds: 1 },
        auth,
      ),
      400,
      "bad_request",
      /optimality result for a faithfulness job/,
    );
    await expectRefused(
      await post("/rpc/storeEvaluation", { workerId, jobId: evalJob, params: {}, result: [], seconds: 1 }, auth),
      400,
      "bad_request",
    );
    await expectRefused(
      await post(
        "/rpc/storeImageSet",
        { workerId, jobId: evalJob, images: [Buffer.alloc(S * S * 3).toString("base64")] },
        auth,
      ),
      400,
      "bad_request",
      /only image debugging of false positives/,
    );
    // reads refuse what is not theirs to name
    await expectRefused(
      await post("/rpc/imageSetFiles", { workerId, circuitId, set: "../../models", count: 1 }, auth),
      400,
      "bad_request",
    );
    await expectRefused(
      await post("/rpc/otherClassImages", { workerId, datasetId, exclude: "bee", cap: 1_000_000 }, auth),
      400,
      "bad_request",
    );
    for (const path of [
      `/files/imageSet/${circuitId}/not-a-set/0.png`,
      `/files/imageSet/${circuitId}/${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}/..%2F..%2Fx.png`,
      `/files/imageSet/${circuitId}/${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}/.hidden.png`,
    ]) {
      const r = await fetch(api(path), { headers: auth });
      expect(r.status, path).toBe(400);
    }
    const missing = await fetch(
      api(`/files/imageSet/${circuitId}/${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}/0.png`),
      { headers: auth },
    );
    expect(missing.status).toBe(404);

    expect(heatFiles()).toEqual(before.heat);
    expect(evaluationCount()).toBe(before.evaluations);
    for (const jobId of [heatJob, evalJob])
      expect(
        await (await post("/rpc/fail", { workerId, jobId, error: "test over", retryable: false }, auth)).json(),
      ).toBe("failed");
  });

  it("serves only listed files: no path traversal, no hidden or non-image files, no other folders", async () => {
    const ok = await fetch(api(`/files/model/${modelId}/manifest.json`), { headers: auth });
    expect(ok.status).toBe(200);
    expect(JSON.parse(await ok.text())).toHaveProperty("classes");
    const img = await fetch(api(`/files/dataset/${datasetId}/bee/${readdirSync(join(FIXTURE_IMAGES, "bee"))[0]}`), {
      headers: auth,
    });
    expect(img.status).toBe(200);
    for (const [path, status] of [
      [`/files/model/${modelId}/..%2F..%2Fdb.sqlite`, 400],
      [`/files/model/${modelId}/%2E%2E`, 400],
      [`/files/model/${modelId}/.hidden`, 400],
      [`/files/dataset/${datasetId}/..%2F..%2F..%2Fetc/passwd.png`, 400],
      [`/files/dataset/${datasetId}/..%2F..%2F..%2Fetc/passwd`, 400],
      [`/files/dataset/${datasetId}/bee/notes.txt`, 400],
      [`/files/dataset/${datasetId}/%2E%2E/x.png`, 400],
      [`/files/model/0/manifest.json`, 400],
      [`/files/model/1e3/manifest.json`, 400],
      [`/files/model/999999/manifest.json`, 404],
      [`/files/dataset/${datasetId}/bee/nothing-here.png`, 404],
      [`/files/other/1/x`, 400],
    ] as const) {
      const r = await fetch(api(path), { headers: auth });
      expect(r.status, path).toBe(status);
    }
  });

  it("GET /api/health answers without secrets", async () => {
    const r = await fetch(`${server.url}/api/health`);
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(JSON.parse(text)).toMatchObject({ status: "ok", database: "ok", queue: { kind: "redis", status: "ok" } });
    expect(text).not.toMatch(/redis:\/\/|127\.0\.0\.1|neurflow-test|\.db|nfw_/);
  });
  it("refuses oversized bodies, declared or streamed, before reading them", async () => {
    const big = JSON.stringify({ workerId, jobId: 1, message: "x".repeat(2 * 1024 * 1024) });
    const declared = await post("/rpc/log", big, auth);
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ code: "too_large" });
    // no Content-Length: counted as it streams
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ < 40) c.enqueue(chunk);
        else c.close();
      },
    });
    const streamed = await fetch(api("/rpc/log"), {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });
});

describe("npm run worker", () => {
  const closedPort = () =>
    new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => {
        const a = s.address();
        s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
      });
    });

  it("refuses to start, with a clear message, when its configuration is wrong", async () => {
    const revoked = await newToken("revoked-box");
    await env.as.admin.workers.revokeToken({ id: revoked.id });
    const port = await closedPort();
    const cases: [Record<string, string>, RegExp][] = [
      [
        {
          NEURFLOW_DB: join(env.dir, "elsewhere.db"),
          NEURFLOW_PLATFORM_URL: server.url,
          NEURFLOW_WORKER_TOKEN: revoked.token,
        },
        /both NEURFLOW_DB and NEURFLOW_PLATFORM_URL are set/,
      ],
      [{ NEURFLOW_PLATFORM_URL: server.url }, /NEURFLOW_WORKER_TOKEN is not set/],
      [{ NEURFLOW_PLATFORM_URL: server.url, NEURFLOW_WORKER_TOKEN: "secret" }, /not a worker token/],
      [{ NEURFLOW_PLATFORM_URL: `${server.url}/app`, NEURFLOW_WORKER_TOKEN: revoked.token }, /origin/],
      [
        { NEURFLOW_PLATFORM_URL: server.url, NEURFLOW_WORKER_TOKEN: revoked.token, NEURFLOW_QUEUE: redis.url },
        /never connects to Redis itself/,
      ],
      [
        { NEURFLOW_PLATFORM_URL: server.url, NEURFLOW_WORKER_TOKEN: revoked.token },
        /refuses this worker's token: .*revoked/,
      ],
      [
        { NEURFLOW_PLATFORM_URL: server.url, NEURFLOW_WORKER_TOKEN: `nfw_${"B".repeat(43)}` },
        /refuses this worker's token: unknown worker token/,
      ],
      [
        {
          NEURFLOW_PLATFORM_URL: server.url,
          NEURFLOW_WORKER_TOKEN: revoked.token,
          NEURFLOW_WORKER_CACHE_BYTES: "lots",
        },
        /NEURFLOW_WORKER_CACHE_BYTES must be a size such as 20G/,
      ],
      [
        { NEURFLOW_PLATFORM_URL: `http://127.0.0.1:${port}`, NEURFLOW_WORKER_TOKEN: revoked.token },
        new RegExp(`the platform at http://127.0.0.1:${port} does not answer`),
      ],
      [
        { NEURFLOW_DB: join(env.dir, "local-worker.db"), NEURFLOW_QUEUE: `redis://127.0.0.1:${port}` },
        /the queue's Redis \(BullMQ on redis:\/\/127\.0\.0\.1:\d+ .*\) does not answer/,
      ],
    ];
    // all at once: most of the time is each one loading the engine's backend
    const runs = cases.map(([vars, message]) => ({ w: workerMain(vars), message }));
    for (const { w, message } of runs) {
      expect(await w.done, w.out()).toBe(2);
      expect(w.out()).toMatch(message);
      expect(w.out()).not.toMatch(/started:/);
    }
  }, 180_000);

  it("with a good token: prints its backend, the queue and the platform, registers, and says goodbye on SIGTERM", async () => {
    const { token } = await newToken("main-box");
    const w = workerMain({
      NEURFLOW_PLATFORM_URL: server.url,
      NEURFLOW_WORKER_TOKEN: token,
      NEURFLOW_WORKER_KINDS: "label",
    });
    const line = await waitFor("the start line", () => /started: .*\n/.exec(w.out())?.[0], 60_000);
    expect(line).toMatch(/backend wasm/);
    expect(line).toMatch(/queue BullMQ on redis:\/\/127\.0\.0\.1:\d+ \(prefix remote\)/);
    expect(line).toContain(`serving the platform at ${server.url}`);
    expect(line).toMatch(/kinds label;/);
    const listed = () =>
      env.db
        .select()
        .from(workerNodes)
        .all()
        .find((x) => x.id.includes(`:${w.child.pid}:`));
    expect(listed()).toMatchObject({ backend: expect.stringMatching(/^wasm/), stoppedAt: null, kinds: ["label"] });
    w.child.kill("SIGTERM");
    expect(await w.done).toBe(0);
    expect(listed()!.stoppedAt).not.toBeNull();
  }, 90_000);
});
