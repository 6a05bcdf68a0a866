/**
 * The `JobQueue` contract (server/jobs/queue.ts), run against both queues on real clocks: the
 * SQLite queue on a real file, and BullMQ on a real `redis-server` (tests/helpers/redisServer.ts).
 * Each queue gets a second instance on its own connections, as a second worker process would.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inArray } from "drizzle-orm";
import { openDb, type Db } from "~/db/client";
import { jobs } from "~/db/schema";
import { BullmqJobQueue } from "~/server/jobs/bullmqQueue";
import type { JobQueue, JobRecord } from "~/server/jobs/queue";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import { PermanentJobError, Worker } from "~/server/jobs/worker";
import { startRedis, type RedisServer } from "../helpers/redisServer";

/** Long enough that a claim right after a failure comes before the back-off ends on a busy machine. */
const BACKOFF_MS = 500;

interface Pair {
  /** Two queues on one database: two workers' views. */
  a: JobQueue;
  b: JobQueue;
  db: Db;
}

interface Harness {
  name: string;
  setup(): Promise<void>;
  /** A fresh pair (BullMQ: a new key prefix, so Redis starts empty for each test). */
  pair(): Promise<Pair>;
  /** Closes the last pair's second connection and its Redis clients. */
  release(): Promise<void>;
  teardown(): Promise<void>;
}

function sqliteHarness(): Harness {
  let dir = "";
  let db: Db;
  let extra: Db | null = null;
  return {
    name: "SqliteJobQueue",
    async setup() {
      dir = mkdtempSync(join(tmpdir(), "neurflow-contract-"));
      db = openDb(join(dir, "q.db"));
    },
    async pair() {
      const other = openDb(join(dir, "q.db"));
      extra = other;
      return {
        db,
        a: new SqliteJobQueue(db, { backoffBaseMs: BACKOFF_MS }),
        b: new SqliteJobQueue(other, { backoffBaseMs: BACKOFF_MS }),
      };
    },
    async release() {
      extra?.$client.close();
      extra = null;
    },
    async teardown() {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function bullmqHarness(): Harness {
  let dir = "";
  let db: Db;
  let redis: RedisServer;
  let n = 0;
  let open: BullmqJobQueue[] = [];
  let extra: Db | null = null;
  return {
    name: "BullmqJobQueue",
    async setup() {
      dir = mkdtempSync(join(tmpdir(), "neurflow-contract-"));
      db = openDb(join(dir, "q.db"));
      redis = await startRedis();
    },
    async pair() {
      const prefix = `contract${++n}`;
      const other = openDb(join(dir, "q.db"));
      extra = other;
      const make = (d: Db) =>
        new BullmqJobQueue(d, {
          url: redis.url,
          prefix,
          backoffBaseMs: BACKOFF_MS,
          stalledIntervalMs: 100,
          log: () => {},
        });
      const a = make(db);
      const b = make(other);
      open = [a, b];
      return { db, a, b };
    },
    async release() {
      for (const q of open) await q.close();
      open = [];
      extra?.$client.close();
      extra = null;
    },
    async teardown() {
      db.$client.close();
      await redis.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe.each([sqliteHarness(), bullmqHarness()])("$name: the JobQueue contract", (h) => {
  let p: Pair;
  beforeAll(() => h.setup());
  afterEach(() => h.release());
  afterAll(() => h.teardown());
  beforeEach(async () => {
    p = await h.pair();
    // every test starts from a queue with nothing to claim
    p.db
      .update(jobs)
      .set({ status: "canceled" })
      .where(inArray(jobs.status, ["queued", "running"]))
      .run();
  });

  it("a payload that is not its kind's is refused when queued, and nothing is stored", async () => {
    const before = p.db.select({ id: jobs.id }).from(jobs).all().length;
    await expect(p.a.enqueue("circuit", { runId: "1" } as never)).rejects.toThrow(/bad circuit payload: runId/);
    await expect(p.a.enqueue("label", {} as never)).rejects.toThrow(/bad label payload: circuitId/);
    await expect(p.a.enqueue("heatmaps", { circuitId: 1, group: 0 })).rejects.toThrow(/bad heatmaps payload: group/);
    expect(p.db.select({ id: jobs.id }).from(jobs).all().length).toBe(before);
    expect(await p.a.claim("w1", { leaseMs: 5000 })).toBeNull();
  });

  it("enqueue → claim → progress → checkpoint → complete; events in order, resumable after an id", async () => {
    const job = await p.a.enqueue("circuit", { runId: 1 });
    expect(job).toMatchObject({ kind: "circuit", status: "queued", attempts: 0, payload: { runId: 1 } });
    const c = (await p.a.claim("w1", { leaseMs: 5000 }))!;
    expect(c).toMatchObject({ id: job.id, status: "running", leaseOwner: "w1", attempts: 1, checkpoint: null });
    expect(c.leaseExpiresAt).toBeGreaterThan(Date.now() + 4000);
    expect(
      await p.a.progress(c.id, "w1", { fraction: 0.25, message: "a quarter", data: { stage: "x" } }),
    ).toStrictEqual({
      held: true,
      cancelRequested: false,
    });
    expect(await p.a.log(c.id, "w1", "hello", { n: 1 })).toMatchObject({ held: true });
    expect(await p.a.checkpoint(c.id, "w1", { layers: 1 }, { layer: "fc" })).toMatchObject({ held: true });
    expect(await p.a.get(c.id)).toMatchObject({ progress: 0.25, message: "a quarter", checkpoint: { layers: 1 } });
    expect(await p.a.complete(c.id, "w1", { circuitId: 7 })).toBe(true);
    expect(await p.b.get(c.id)).toMatchObject({
      status: "succeeded",
      result: { circuitId: 7 },
      progress: 1,
      leaseOwner: null,
    });
    expect(await p.b.claim("w2", { leaseMs: 5000 })).toBeNull();
    const ev = await p.b.events(job.id, 0);
    expect(ev.map((e) => [e.type, e.data.status ?? e.data.message ?? null])).toStrictEqual([
      ["status", "queued"],
      ["status", "running"],
      ["progress", "a quarter"],
      ["log", "hello"],
      ["checkpoint", null],
      ["status", "succeeded"],
    ]);
    expect(ev[2]!.data).toStrictEqual({ fraction: 0.25, message: "a quarter", stage: "x" });
    expect(ev[4]!.data).toStrictEqual({ layer: "fc" });
    const ids = ev.map((e) => e.id);
    expect([...ids].sort((x, y) => x - y)).toStrictEqual(ids);
    expect((await p.b.events(job.id, ids[2]!)).map((e) => e.id)).toStrictEqual(ids.slice(3));
    expect(await p.b.events(job.id, ids[5]!)).toStrictEqual([]);
  });

  it("two workers claiming at the same time never get the same job", async () => {
    const queued = new Set<number>();
    for (let i = 1; i <= 20; i++) queued.add((await p.a.enqueue("circuit", { runId: i })).id);
    const got: number[] = [];
    for (let round = 0; round < 15; round++) {
      const [x, y] = await Promise.all([p.a.claim("A", { leaseMs: 10_000 }), p.b.claim("B", { leaseMs: 10_000 })]);
      if (x) got.push(x.id);
      if (y) got.push(y.id);
    }
    expect(got).toHaveLength(20);
    expect(new Set(got)).toStrictEqual(queued);
  });

  it("priority first, then first in first out, across kinds; only the kinds a worker runs; a delayed job waits", async () => {
    const a = await p.a.enqueue("circuit", { runId: 1 });
    const b = await p.a.enqueue("label", { circuitId: 1 });
    const c = await p.a.enqueue("circuit", { runId: 2 }, { priority: 5 });
    const d = await p.a.enqueue("heatmaps", { circuitId: 1, group: 2 }, { priority: -1 });
    const e = await p.a.enqueue("circuit", { runId: 3 }, { delayMs: 600 });
    expect((await p.b.claim("w", { kinds: ["label"], leaseMs: 5000 }))!.id).toBe(b.id);
    const order: number[] = [];
    for (;;) {
      const j = await p.b.claim("w", { kinds: ["circuit", "heatmaps"], leaseMs: 5000 });
      if (!j) break;
      order.push(j.id);
    }
    expect(order).toStrictEqual([c.id, a.id, d.id]);
    const delayed = await eventually("the delayed job", () => p.b.claim("w", { leaseMs: 5000 }));
    expect(delayed.id).toBe(e.id);
    expect(Date.now()).toBeGreaterThanOrEqual(e.createdAt + 600);
  });

  it("a worker that stops renewing loses its lease: another takes the job over with its checkpoint; the first is shut out", async () => {
    const job = await p.a.enqueue("circuit", { runId: 1 });
    const first = (await p.a.claim("A", { leaseMs: 800 }))!;
    expect(first.id).toBe(job.id);
    expect(await p.a.checkpoint(job.id, "A", { layers: 2 })).toMatchObject({ held: true });
    // renewing keeps it: nobody else gets it for three lease times
    const until = Date.now() + 2400;
    while (Date.now() < until) {
      expect(await p.a.renew(job.id, "A", 800)).toStrictEqual({ held: true, cancelRequested: false });
      expect(await p.b.claim("B", { leaseMs: 800 })).toBeNull();
      await sleep(150);
    }
    // A stops renewing (its process hangs or died): B takes it over once the lease has expired
    const stoppedAt = Date.now();
    const second = await eventually("the takeover", () => p.b.claim("B", { leaseMs: 5000 }));
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(400);
    expect(second).toMatchObject({ id: job.id, leaseOwner: "B", attempts: 2, checkpoint: { layers: 2 } });
    expect(await p.a.renew(job.id, "A", 800)).toStrictEqual({ held: false, cancelRequested: false });
    expect(await p.a.progress(job.id, "A", { fraction: 0.9 })).toStrictEqual({ held: false, cancelRequested: false });
    expect(await p.a.checkpoint(job.id, "A", { layers: 3 })).toMatchObject({ held: false });
    expect(await p.a.log(job.id, "A", "late")).toMatchObject({ held: false });
    expect(await p.a.complete(job.id, "A", { from: "A" })).toBe(false);
    expect(await p.a.fail(job.id, "A", "late failure")).toBe("lost");
    expect(await p.a.markCanceled(job.id, "A")).toBe(false);
    expect((await p.b.get(job.id))!.checkpoint).toStrictEqual({ layers: 2 });
    expect(await p.b.renew(job.id, "B", 5000)).toStrictEqual({ held: true, cancelRequested: false });
    expect(await p.b.complete(job.id, "B", { from: "B" })).toBe(true);
    expect(await p.a.get(job.id)).toMatchObject({ status: "succeeded", result: { from: "B" }, attempts: 2 });
    const ev = await p.a.events(job.id, 0);
    expect(ev.map((e) => [e.type, e.data.status ?? null])).toStrictEqual([
      ["status", "queued"],
      ["status", "running"],
      ["checkpoint", null],
      ["status", "running"],
      ["status", "succeeded"],
    ]);
    expect(ev[3]!.data).toMatchObject({ attempt: 2, worker: "B", resumed: true });
  });

  it("a failure requeues with exponential back-off until the attempts are used up; a permanent one fails at once", async () => {
    const job = await p.a.enqueue("circuit", { runId: 1 }, { maxAttempts: 3 });
    const waited: number[] = [];
    let failedAt = 0;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [q, w] = attempt % 2 ? [p.a, "A"] : [p.b, "B"];
      const c = await eventually("the next attempt", () => q.claim(w, { leaseMs: 5000 }));
      if (failedAt) waited.push(Date.now() - failedAt);
      expect(c).toMatchObject({ id: job.id, attempts: attempt });
      const before = Date.now(); // the back-off counts from inside fail()
      const outcome = await q.fail(job.id, w, `boom ${attempt}`);
      failedAt = before;
      if (attempt < 3) {
        expect(outcome).toBe("requeued");
        expect(await p.a.get(job.id)).toMatchObject({ status: "queued", error: `boom ${attempt}`, leaseOwner: null });
        expect(await p.b.claim("B", { leaseMs: 5000 })).toBeNull(); // backing off
      } else expect(outcome).toBe("failed");
    }
    expect(await p.a.get(job.id)).toMatchObject({ status: "failed", error: "boom 3", attempts: 3 });
    const retries = (await p.a.events(job.id, 0)).filter((e) => e.type === "status" && e.data.status === "queued");
    // base · 2^(attempt − 1): one back-off per failure before the last
    expect(retries.slice(1).map((e) => [e.data.retryInMs, e.data.attempt])).toStrictEqual([
      [BACKOFF_MS, 1],
      [2 * BACKOFF_MS, 2],
    ]);
    expect(waited[0]).toBeGreaterThanOrEqual(BACKOFF_MS - 5);
    expect(waited[1]).toBeGreaterThanOrEqual(2 * BACKOFF_MS - 5);
    await sleep(BACKOFF_MS);
    expect(await p.a.claim("A", { leaseMs: 5000 })).toBeNull();

    const perm = await p.a.enqueue("circuit", { runId: 2 }, { maxAttempts: 5 });
    await p.a.claim("A", { leaseMs: 5000 });
    expect(await p.a.fail(perm.id, "A", "bad input", { retryable: false })).toBe("failed");
    expect(await p.a.get(perm.id)).toMatchObject({ status: "failed", error: "bad input", attempts: 1 });
    await sleep(BACKOFF_MS + 100);
    expect(await p.b.claim("B", { leaseMs: 5000 })).toBeNull();
  });

  it("a job whose workers keep dying fails after its attempts (reaped); a canceled one whose worker died is canceled", async () => {
    const job = await p.a.enqueue("circuit", { runId: 1 }, { maxAttempts: 2 });
    expect((await p.a.claim("A", { leaseMs: 300 }))!.attempts).toBe(1);
    const second = await eventually("the takeover", () => p.b.claim("B", { leaseMs: 300 }));
    expect(second.attempts).toBe(2);
    // B dies too: nobody may run it a third time; reaping settles it
    const reaped: JobRecord[] = [];
    await eventually("the reaping", async () => {
      expect(await p.a.claim("C", { leaseMs: 300 })).toBeNull();
      reaped.push(...(await p.a.reapExpired()), ...(await p.b.reapExpired()));
      return (await p.a.get(job.id))!.status === "failed";
    });
    expect(reaped.map((j) => j.id)).toStrictEqual([job.id]);
    expect(await p.a.get(job.id)).toMatchObject({ status: "failed", error: expect.stringContaining("lease expired") });

    const c = await p.a.enqueue("circuit", { runId: 2 });
    await p.a.claim("A", { leaseMs: 300 });
    expect(await p.b.cancel(c.id)).toBe("running");
    const settled: JobRecord[] = [];
    await eventually("the canceled job to be settled", async () => {
      expect(await p.b.claim("B", { leaseMs: 300 })).toBeNull();
      settled.push(...(await p.b.reapExpired()));
      return (await p.a.get(c.id))!.status === "canceled";
    });
    expect(settled.map((j) => [j.id, j.status])).toStrictEqual([[c.id, "canceled"]]);
  });

  it("cancel: a queued job at once and never claimed; a running one at its next heartbeat", async () => {
    const q = await p.a.enqueue("circuit", { runId: 1 });
    expect(await p.b.cancel(q.id)).toBe("canceled");
    expect(await p.a.claim("A", { leaseMs: 5000 })).toBeNull();
    expect(await p.a.get(q.id)).toMatchObject({ status: "canceled" });
    const r = await p.a.enqueue("circuit", { runId: 2 });
    await p.a.claim("A", { leaseMs: 5000 });
    expect(await p.b.cancel(r.id)).toBe("running");
    expect(await p.a.renew(r.id, "A", 5000)).toStrictEqual({ held: true, cancelRequested: true });
    expect(await p.a.markCanceled(r.id, "A")).toBe(true);
    expect(await p.b.get(r.id)).toMatchObject({ status: "canceled", leaseOwner: null });
    expect(await p.b.cancel(r.id)).toBe("canceled");
    expect(await p.b.cancel(424242)).toBeNull();
    expect(await p.b.claim("B", { leaseMs: 5000 })).toBeNull();
    const ev = (await p.a.events(r.id, 0)).map((e) => [e.type, e.data.status ?? e.data.message]);
    expect(ev).toStrictEqual([
      ["status", "queued"],
      ["status", "running"],
      ["log", "cancel requested"],
      ["status", "canceled"],
    ]);
  });

  it("the Worker loop: a handler runs to completion with progress; PermanentJobError fails without retry; a cancel aborts it", async () => {
    const seen: string[] = [];
    const worker = new Worker({
      queue: p.b,
      leaseMs: 2000,
      heartbeatMs: 50,
      progressIntervalMs: 0,
      handlers: {
        circuit: {
          async run(ctx) {
            const { runId } = ctx.job.payload as { runId: number };
            await ctx.progress(0.5, "half");
            await ctx.checkpoint({ step: 1 });
            if (runId === 2) throw new PermanentJobError("bad payload");
            if (runId === 3)
              await new Promise((_, reject) =>
                ctx.signal.addEventListener("abort", () => reject(new Error("stopped"))),
              );
            return { ok: runId };
          },
          settled(job, o) {
            seen.push(`${job.id}:${o.status}`);
          },
        },
      },
    });
    const good = await p.a.enqueue("circuit", { runId: 1 });
    expect(await worker.runOnce()).toMatchObject({ status: "succeeded", result: { ok: 1 } });
    const bad = await p.a.enqueue("circuit", { runId: 2 }, { maxAttempts: 3 });
    expect(await worker.runOnce()).toMatchObject({ status: "failed", error: "bad payload" });
    expect(await p.a.get(bad.id)).toMatchObject({ status: "failed", attempts: 1 });
    const long = await p.a.enqueue("circuit", { runId: 3 });
    const running = worker.runOnce();
    await eventually("the long job to run", async () => (await p.a.get(long.id))!.status === "running");
    expect(await p.a.cancel(long.id)).toBe("running");
    expect(await running).toStrictEqual({ status: "canceled" });
    expect(await p.a.get(long.id)).toMatchObject({ status: "canceled" });
    expect(seen).toStrictEqual([`${good.id}:succeeded`, `${bad.id}:failed`, `${long.id}:canceled`]);
    expect(await worker.runOnce()).toBeNull();
  });
});
