/**
 * What only the BullMQ queue has (the contract itself is tests/integration/queueContract.test.ts):
 * its selection from NEURFLOW_QUEUE, payload checks against each kind's schema, BullMQ's lock as
 * the lease, and Redis restarts — with the append-only file (nothing lost), and killed without
 * any persistence (the database puts every unsettled job back).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inArray } from "drizzle-orm";
import { Redis } from "ioredis";
import { openDb, type Db } from "~/db/client";
import { jobs } from "~/db/schema";
import { BullmqJobQueue } from "~/server/jobs/bullmqQueue";
import { createJobQueue, describeQueue, queueConfig } from "~/server/jobs/createQueue";
import { labelJobHandler } from "~/server/jobs/handlers/labelJob";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import { Worker } from "~/server/jobs/worker";
import { LabelClient } from "~/server/labeling/client";
import { goodExplanation, goodLabel, startFakeOpenAI } from "../helpers/fakeOpenAI";
import { labelledCircuit, testLabelConfig } from "../helpers/labelsFixture";
import { startRedis, type RedisServer } from "../helpers/redisServer";
import { makeEnv } from "../helpers/testEnv";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function eventually<T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let dir: string;
let db: Db;
let redis: RedisServer;
let n = 0;
const open: BullmqJobQueue[] = [];
function queue(server: RedisServer, opts: { prefix?: string; enqueueWaitMs?: number } = {}): BullmqJobQueue {
  const q = new BullmqJobQueue(db, {
    url: server.url,
    prefix: opts.prefix ?? `bq${++n}`,
    backoffBaseMs: 200,
    stalledIntervalMs: 100,
    enqueueWaitMs: opts.enqueueWaitMs,
    log: () => {},
  });
  open.push(q);
  return q;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "neurflow-bullmq-"));
  db = openDb(join(dir, "q.db"));
  redis = await startRedis();
});
afterAll(async () => {
  for (const q of open) await q.close();
  db.$client.close();
  await redis.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  db.update(jobs)
    .set({ status: "canceled" })
    .where(inArray(jobs.status, ["queued", "running"]))
    .run();
});

describe("choosing the queue", () => {
  it("NEURFLOW_QUEUE unset is the SQLite queue, redis://HOST:PORT[/DB] is BullMQ; anything else is refused", async () => {
    expect(queueConfig({})).toStrictEqual({ kind: "sqlite" });
    expect(queueConfig({ NEURFLOW_QUEUE: " " })).toStrictEqual({ kind: "sqlite" });
    expect(queueConfig({ NEURFLOW_QUEUE: "redis://10.0.0.5:6379/2", NEURFLOW_QUEUE_PREFIX: "site-a" })).toStrictEqual({
      kind: "redis",
      url: "redis://10.0.0.5:6379/2",
      prefix: "site-a",
    });
    for (const bad of ["http://x:1", "redis://", "localhost:6379", "redis://h:1/db", "redis://h:1/0?x=1", "sqlite"])
      expect(() => queueConfig({ NEURFLOW_QUEUE: bad }), bad).toThrow(/NEURFLOW_QUEUE must be unset/);
    expect(() => queueConfig({ NEURFLOW_QUEUE: "redis://h:1", NEURFLOW_QUEUE_PREFIX: "a:b" })).toThrow(
      /NEURFLOW_QUEUE_PREFIX/,
    );
    expect(describeQueue({ kind: "redis", url: "redis://user:secret@h:6379/1" })).toBe(
      "BullMQ on redis://h:6379/1 (prefix neurflow)",
    );
    expect(createJobQueue(db, { kind: "sqlite" })).toBeInstanceOf(SqliteJobQueue);
    const q = createJobQueue(db, { kind: "redis", url: redis.url, prefix: "choose" });
    expect(q).toBeInstanceOf(BullmqJobQueue);
    await (q as BullmqJobQueue).ping();
    await (q as BullmqJobQueue).close();
  });
});

describe("BullmqJobQueue", () => {
  it("checks a payload against its kind's schema when queued, and again when claimed", async () => {
    const q = queue(redis);
    const before = db.select().from(jobs).all().length;
    await expect(q.enqueue("circuit", { runId: "7" } as never)).rejects.toThrow(/bad circuit payload: runId/);
    await expect(q.enqueue("heatmaps", { circuitId: 1 } as never)).rejects.toThrow(/bad heatmaps payload: group/);
    await expect(q.enqueue("circuit", { runId: 1 }, { priority: 1.5 })).rejects.toThrow();
    await expect(q.enqueue("nope" as "circuit", { runId: 1 })).rejects.toThrow();
    expect(db.select().from(jobs).all()).toHaveLength(before);
    // a row that went bad after it was queued (written by other code) is failed by the claim, not run
    const now = Date.now();
    const row = db
      .insert(jobs)
      .values({
        kind: "label",
        status: "queued",
        payload: { circuitId: -1 },
        runAt: now,
        createdAt: now,
        updatedAt: now,
      })
      .returning()
      .get();
    expect(await q.reconcile()).toStrictEqual([row.id]);
    expect(await q.claim("w", { leaseMs: 5000 })).toBeNull();
    expect(await q.get(row.id)).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/^bad label payload: circuitId/),
    });
    expect((await q.reapExpired()).map((j) => [j.id, j.status])).toStrictEqual([[row.id, "failed"]]);
  });

  it("the lease is BullMQ's lock: its value is the worker id, its time to live the lease; renew extends it", async () => {
    const prefix = `lock${++n}`;
    const q = queue(redis, { prefix });
    const raw = new Redis(redis.url);
    try {
      const job = await q.enqueue("circuit", { runId: 1 });
      expect(await raw.exists(`${prefix}:circuit:job-${job.id}`)).toBe(1);
      await q.claim("worker-1", { leaseMs: 3000 });
      const lock = `${prefix}:circuit:job-${job.id}:lock`;
      expect(await raw.get(lock)).toBe("worker-1");
      expect(await raw.pttl(lock)).toBeGreaterThan(2000);
      expect(await raw.pttl(lock)).toBeLessThanOrEqual(3000);
      await sleep(1200);
      expect(await raw.pttl(lock)).toBeLessThan(2000);
      await q.renew(job.id, "worker-1", 3000);
      expect(await raw.pttl(lock)).toBeGreaterThan(2500);
      // another worker id cannot extend it
      expect(await q.renew(job.id, "worker-2", 3000)).toStrictEqual({ held: false, cancelRequested: false });
      expect(await raw.get(lock)).toBe("worker-1");
      expect(await q.complete(job.id, "worker-1", null)).toBe(true);
      // Redis keeps only what is still to be done: the finished job is gone from it, kept in the database
      expect(await raw.exists(`${prefix}:circuit:job-${job.id}`)).toBe(0);
      expect((await q.get(job.id))!.status).toBe("succeeded");
    } finally {
      raw.disconnect();
    }
  });

  it("a Redis restart (SIGTERM, appendonly yes) loses no job: the running one keeps its lock, the others are claimed after", async () => {
    const q = queue(redis);
    const ids: number[] = [];
    for (let i = 1; i <= 4; i++) ids.push((await q.enqueue("circuit", { runId: i })).id);
    const delayed = await q.enqueue("label", { circuitId: 1 }, { delayMs: 1500 });
    const running = (await q.claim("A", { leaseMs: 6000 }))!;
    expect(running.id).toBe(ids[0]);
    expect(await q.checkpoint(running.id, "A", { layers: 1 })).toMatchObject({ held: true });

    await redis.stop("SIGTERM");
    const renewed = q.renew(running.id, "A", 6000); // waits for Redis to come back
    await sleep(500);
    await redis.start();
    expect(await renewed).toStrictEqual({ held: true, cancelRequested: false });
    expect(await q.reconcile()).toStrictEqual([]); // Redis lost nothing: nothing to put back

    const claimed: number[] = [];
    await eventually("every job", async () => {
      const j = await q.claim("B", { leaseMs: 6000 });
      if (j) {
        claimed.push(j.id);
        expect(await q.complete(j.id, "B", { by: "B" })).toBe(true);
      }
      return claimed.length === 4;
    });
    expect(claimed).toStrictEqual([...ids.slice(1), delayed.id]);
    expect(await q.complete(running.id, "A", { by: "A" })).toBe(true);
    for (const id of [...ids, delayed.id]) expect(await q.get(id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(await q.claim("B", { leaseMs: 6000 })).toBeNull();
  });

  it("Redis killed with no persistence at all: reconcile puts every unsettled job back, the running one is taken over from its checkpoint", async () => {
    const bare = await startRedis({ appendOnly: false });
    try {
      const q = queue(bare);
      const ids: number[] = [];
      for (let i = 1; i <= 3; i++) ids.push((await q.enqueue("circuit", { runId: i })).id);
      const done = await q.enqueue("label", { circuitId: 1 });
      const a = (await q.claim("A", { leaseMs: 5000 }))!;
      expect(a.id).toBe(ids[0]);
      await q.checkpoint(a.id, "A", { layers: 2 });
      const l = (await q.claim("A", { leaseMs: 5000, kinds: ["label"] }))!;
      expect(await q.complete(l.id, "A", null)).toBe(true);

      await bare.stop("SIGKILL");
      await bare.start(); // empty
      expect(await q.renew(a.id, "A", 5000)).toStrictEqual({ held: false, cancelRequested: false });
      expect(await q.claim("B", { leaseMs: 5000 })).toBeNull(); // Redis knows no job
      expect((await q.reconcile()).sort((x, y) => x - y)).toStrictEqual(ids);

      const b = (await q.claim("B", { leaseMs: 5000 }))!;
      expect(b).toMatchObject({ id: a.id, attempts: 2, leaseOwner: "B", checkpoint: { layers: 2 } });
      expect(await q.complete(a.id, "A", null)).toBe(false);
      expect(await q.complete(b.id, "B", null)).toBe(true);
      for (const id of ids.slice(1)) {
        const j = (await q.claim("B", { leaseMs: 5000 }))!;
        expect(j).toMatchObject({ id, attempts: 1 });
        expect(await q.complete(id, "B", null)).toBe(true);
      }
      expect(await q.claim("B", { leaseMs: 5000 })).toBeNull();
      expect(await q.get(done.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    } finally {
      await bare.close();
    }
  });

  it("enqueue while Redis is down answers at once (the job is in the database) and the job runs when Redis is back", async () => {
    const q = queue(redis, { enqueueWaitMs: 300 });
    await q.ping();
    await redis.stop("SIGTERM");
    const t = Date.now();
    const job = await q.enqueue("circuit", { runId: 1 });
    expect(Date.now() - t).toBeLessThan(2000);
    expect(await q.get(job.id)).toMatchObject({ status: "queued" });
    await redis.start();
    const c = await eventually("the job queued during the outage", () => q.claim("A", { leaseMs: 5000 }));
    expect(c.id).toBe(job.id);
    expect(await q.complete(c.id, "A", null)).toBe(true);
  });
});

describe("a job kind other than circuits on BullMQ", () => {
  it("a label job queued by labels.start runs through Redis against the local OpenAI-compatible server; labels.cancel removes a queued one", async () => {
    const env = await makeEnv({
      jobQueue: (d) => new BullmqJobQueue(d, { url: redis.url, prefix: `labels${++n}`, log: () => {} }),
    });
    const fake = await startFakeOpenAI((r) =>
      r.kind === "explanation" ? goodExplanation("Stripes make up the body.") : goodLabel("yellow stripes"),
    );
    const saved = process.env.OPENAI_BASE_URL;
    process.env.OPENAI_BASE_URL = fake.url; // labels.start refuses without an endpoint
    try {
      const circuitId = await labelledCircuit(env, { seed: 11 });
      const { jobId } = await env.as.annotator.labels.start({ circuitId });
      const worker = new Worker({
        queue: env.queue,
        handlers: { label: labelJobHandler(env.db, () => new LabelClient(testLabelConfig(fake.url))) },
        progressIntervalMs: 0,
      });
      expect(await worker.runOnce()).toMatchObject({ status: "succeeded" });
      const job = (await env.queue.get(jobId))!;
      const result = job.result as { labeled: number; explained: number; failed: unknown[]; calls: number };
      expect(job).toMatchObject({ status: "succeeded", attempts: 1 });
      expect(result.labeled).toBeGreaterThan(3);
      expect(result.failed).toStrictEqual([]);
      expect(fake.requests).toHaveLength(result.calls);
      expect((await env.as.viewer.labels.job({ circuitId }))!.status).toBe("succeeded");

      const again = await env.as.annotator.labels.start({ circuitId, force: true });
      expect(await env.as.annotator.labels.cancel({ circuitId })).toStrictEqual({ status: "canceled" });
      expect(await worker.runOnce()).toBeNull();
      expect((await env.queue.get(again.jobId))!.status).toBe("canceled");
      expect(fake.requests).toHaveLength(result.calls);
    } finally {
      if (saved === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved;
      await fake.close();
      await (env.queue as BullmqJobQueue).close();
      env.close();
    }
  });
});
