/** The durable queue on a real SQLite file: claim, lease, heartbeat, expiry takeover, resume, retries, cancel. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { openDb } from "~/db/client";
import { jobs } from "~/db/schema";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import { Worker, PermanentJobError } from "~/server/jobs/worker";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

let env: TestEnv;
let clock = 1_000_000;
let queue: SqliteJobQueue;
beforeAll(async () => {
  env = await makeEnv();
  queue = new SqliteJobQueue(env.db, { now: () => clock, backoffBaseMs: 1000 });
});
afterAll(() => env.close());

/** Drain: settle everything queued so tests start from an empty queue. */
function clear() {
  env.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.status, "queued")).run();
  env.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.status, "running")).run();
}

describe("SqliteJobQueue", () => {
  it("claims each job exactly once, in priority then FIFO order", async () => {
    clear();
    const a = await queue.enqueue("circuit", { runId: 1 });
    const b = await queue.enqueue("circuit", { runId: 2 });
    const c = await queue.enqueue("circuit", { runId: 3 }, { priority: 5 });
    const claims = await Promise.all([1, 2, 3, 4].map((i) => queue.claim(`w${i}`, { leaseMs: 1000 })));
    const ids = claims.filter(Boolean).map((j) => j!.id);
    expect(ids).toStrictEqual([c.id, a.id, b.id]);
    expect(claims[3]).toBeNull();
    expect(claims[0]).toMatchObject({ status: "running", leaseOwner: "w1", leaseExpiresAt: clock + 1000, attempts: 1 });
  });

  it("two connections to the same file never claim the same job", async () => {
    clear();
    const other = new SqliteJobQueue(openDb(env.dbPath), { now: () => clock });
    for (let i = 0; i < 20; i++) await queue.enqueue("circuit", { runId: i + 1 });
    const got: number[] = [];
    for (let i = 0; i < 12; i++) {
      const [x, y] = await Promise.all([queue.claim("A", { leaseMs: 1000 }), other.claim("B", { leaseMs: 1000 })]);
      if (x) got.push(x.id);
      if (y) got.push(y.id);
    }
    expect(got.length).toBe(20);
    expect(new Set(got).size).toBe(20);
  });

  it("only kinds the worker handles are claimed; delayed jobs wait", async () => {
    clear();
    await queue.enqueue("label", { circuitId: 1 });
    await queue.enqueue("circuit", { runId: 1 }, { delayMs: 5000 });
    expect(await queue.claim("w", { kinds: ["circuit"], leaseMs: 1000 })).toBeNull();
    clock += 5001;
    expect(await queue.claim("w", { kinds: ["circuit"], leaseMs: 1000 })).not.toBeNull();
  });

  it("heartbeat extends the lease; an expired lease is taken over with the checkpoint; the old owner is shut out", async () => {
    clear();
    const job = await queue.enqueue("circuit", { runId: 1 });
    const a = (await queue.claim("A", { leaseMs: 1000 }))!;
    expect(a.id).toBe(job.id);
    await queue.checkpoint(a.id, "A", { layers: 2 });
    clock += 900;
    expect(await queue.renew(a.id, "A", 1000)).toStrictEqual({ held: true, cancelRequested: false });
    clock += 900; // 1800 after claim, but renewed at 900: still held
    expect(await queue.claim("B", { leaseMs: 1000 })).toBeNull();
    clock += 200; // lease expired
    const b = (await queue.claim("B", { leaseMs: 1000 }))!;
    expect(b).toMatchObject({ id: job.id, leaseOwner: "B", attempts: 2, checkpoint: { layers: 2 } });
    expect(await queue.progress(a.id, "A", { fraction: 0.5 })).toStrictEqual({ held: false, cancelRequested: false });
    expect(await queue.checkpoint(a.id, "A", { layers: 3 })).toMatchObject({ held: false });
    expect(await queue.complete(a.id, "A", {})).toBe(false);
    expect(await queue.fail(a.id, "A", "x")).toBe("lost");
    expect((await queue.get(job.id))!.checkpoint).toStrictEqual({ layers: 2 });
    expect(await queue.complete(b.id, "B", { ok: 1 })).toBe(true);
    expect(await queue.get(job.id)).toMatchObject({
      status: "succeeded",
      result: { ok: 1 },
      progress: 1,
      leaseOwner: null,
    });
    const ev = await queue.events(job.id, 0);
    expect(ev.map((e) => [e.type, e.data.status ?? null])).toStrictEqual([
      ["status", "queued"],
      ["status", "running"],
      ["checkpoint", null],
      ["status", "running"],
      ["status", "succeeded"],
    ]);
    expect(ev[3]!.data).toMatchObject({ attempt: 2, worker: "B", resumed: true });
    // events resume after an id
    expect((await queue.events(job.id, ev[2]!.id)).map((e) => e.id)).toStrictEqual([ev[3]!.id, ev[4]!.id]);
  });

  it("fail requeues with back-off until attempts run out; permanent failures fail at once", async () => {
    clear();
    const job = await queue.enqueue("circuit", { runId: 1 }, { maxAttempts: 2 });
    await queue.claim("A", { leaseMs: 1000 });
    expect(await queue.fail(job.id, "A", "boom")).toBe("requeued");
    expect(await queue.get(job.id)).toMatchObject({ status: "queued", error: "boom", leaseOwner: null });
    expect(await queue.claim("A", { leaseMs: 1000 })).toBeNull(); // backing off
    clock += 1001;
    expect((await queue.claim("A", { leaseMs: 1000 }))!.attempts).toBe(2);
    expect(await queue.fail(job.id, "A", "boom again")).toBe("failed");
    expect(await queue.get(job.id)).toMatchObject({ status: "failed", error: "boom again" });
    const p = await queue.enqueue("circuit", { runId: 1 }, { maxAttempts: 5 });
    await queue.claim("A", { leaseMs: 1000 });
    expect(await queue.fail(p.id, "A", "bad input", { retryable: false })).toBe("failed");
  });

  it("a job whose worker keeps dying fails after maxAttempts (reaped)", async () => {
    clear();
    const job = await queue.enqueue("circuit", { runId: 1 }, { maxAttempts: 2 });
    await queue.claim("A", { leaseMs: 100 });
    clock += 101;
    await queue.claim("B", { leaseMs: 100 });
    clock += 101;
    expect(await queue.claim("C", { leaseMs: 100 })).toBeNull();
    const reaped = await queue.reapExpired();
    expect(reaped.map((j) => j.id)).toStrictEqual([job.id]);
    expect(await queue.get(job.id)).toMatchObject({
      status: "failed",
      error: expect.stringContaining("lease expired"),
    });
  });

  it("cancel: a queued job at once; a running job at its next heartbeat; an abandoned one when reaped", async () => {
    clear();
    const q = await queue.enqueue("circuit", { runId: 1 });
    expect(await queue.cancel(q.id)).toBe("canceled");
    expect(await queue.claim("A", { leaseMs: 1000 })).toBeNull();
    const r = await queue.enqueue("circuit", { runId: 1 });
    await queue.claim("A", { leaseMs: 1000 });
    expect(await queue.cancel(r.id)).toBe("running");
    expect(await queue.renew(r.id, "A", 1000)).toStrictEqual({ held: true, cancelRequested: true });
    expect(await queue.markCanceled(r.id, "A")).toBe(true);
    expect((await queue.get(r.id))!.status).toBe("canceled");
    expect(await queue.cancel(r.id)).toBe("canceled");
    expect(await queue.cancel(424242)).toBeNull();
    const s = await queue.enqueue("circuit", { runId: 1 });
    await queue.claim("A", { leaseMs: 100 });
    await queue.cancel(s.id);
    clock += 101;
    expect(await queue.claim("B", { leaseMs: 100 })).toBeNull(); // not taken over
    await queue.reapExpired();
    expect((await queue.get(s.id))!.status).toBe("canceled");
  });
});

describe("Worker", () => {
  it("runs a handler, streams progress, completes; a permanent error fails without retry", async () => {
    clear();
    const realQueue = new SqliteJobQueue(env.db);
    const seen: string[] = [];
    const worker = new Worker({
      queue: realQueue,
      leaseMs: 5000,
      progressIntervalMs: 0,
      handlers: {
        circuit: {
          async run(ctx) {
            await ctx.progress(0.5, "half");
            await ctx.checkpoint({ step: 1 });
            if ((ctx.job.payload as { runId: number }).runId === 999) throw new PermanentJobError("bad payload");
            return { ok: true };
          },
          settled(job, o) {
            seen.push(`${job.id}:${o.status}`);
          },
        },
      },
    });
    const good = await realQueue.enqueue("circuit", { runId: 1 });
    expect(await worker.runOnce()).toMatchObject({ status: "succeeded", result: { ok: true } });
    const bad = await realQueue.enqueue("circuit", { runId: 999 }, { maxAttempts: 3 });
    expect(await worker.runOnce()).toMatchObject({ status: "failed", error: "bad payload" });
    expect(seen).toStrictEqual([`${good.id}:succeeded`, `${bad.id}:failed`]);
    expect(await worker.runOnce()).toBeNull();
  });

  it("a cancel request aborts the handler through its signal", async () => {
    clear();
    const realQueue = new SqliteJobQueue(env.db);
    const worker = new Worker({
      queue: realQueue,
      leaseMs: 300,
      heartbeatMs: 20,
      handlers: {
        circuit: {
          run: (ctx) =>
            new Promise((_, reject) => {
              ctx.signal.addEventListener("abort", () => reject(new Error("stopped")));
            }),
        },
      },
    });
    const job = await realQueue.enqueue("circuit", { runId: 1 });
    const running = worker.runOnce();
    await new Promise((r) => setTimeout(r, 50));
    await realQueue.cancel(job.id);
    expect(await running).toStrictEqual({ status: "canceled" });
    expect((await realQueue.get(job.id))!.status).toBe("canceled");
  });
});
