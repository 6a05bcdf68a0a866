/**
 * `JobQueue` on BullMQ (Redis), for deployments with one worker per GPU (docs/platform.md, "Jobs
 * on BullMQ"). Redis does the dispatching; the application database keeps the record:
 *
 * - Redis (BullMQ): which jobs wait, in which order (priority, then first in first out), which are
 *   delayed (back-off), which worker holds each active job (BullMQ's lock, whose value is the
 *   worker id: the lease), stalled-job detection (a lock that expired because its worker died),
 *   attempts and exponential back-off. One BullMQ queue per job kind; job id `job-<id>`.
 * - The database (`jobs`, `job_events`, as with `SqliteJobQueue`): status, payload, progress,
 *   message, the last checkpoint, result, error, the cancel flag, and the event log the pages read.
 *   `jobs.lease_owner` is the fence: the worker that claimed the job through Redis writes itself
 *   there in the same transaction that reads the checkpoint, and every worker write is conditioned
 *   on it, so a worker that lost its job writes nothing more.
 *
 * Because the database holds every job that is not settled, Redis can be rebuilt from it:
 * `reconcile()` (run by the workers every `reconcileEveryMs`, and when a queue starts) puts back
 * any queued or running job that Redis does not know (a Redis restart that lost writes, or an
 * enqueue that could not reach Redis).
 */
import { and, asc, eq, gte, inArray, or, sql } from "drizzle-orm";
import { Job, Queue, UnrecoverableError, Worker as BullWorker } from "bullmq";
import { Redis } from "ioredis";
import { redisUrlSchema } from "./queueConfig";
import { z } from "zod";
import type { Db } from "~/db/client";
import { JOB_KINDS, jobEvents, jobs, type JobKind, type JobStatus } from "~/db/schema";
import type { JobPayload } from "./kinds";
import { payloadProblem } from "./payloads";
import {
  isTerminal,
  type ClaimOptions,
  type EnqueueOptions,
  type FailOutcome,
  type JobEvent,
  type JobQueue,
  type JobRecord,
  type LeaseState,
  type ProgressUpdate,
} from "./queue";
import { SqliteJobQueue } from "./sqliteQueue";

/** BullMQ serves priority 1 first and allows up to 2^21; the contract's priority (higher first, default 0) maps around the middle. */
const PRIORITY_MIDDLE = 1 << 20;
export const MAX_PRIORITY = PRIORITY_MIDDLE - 1;

const LOST: LeaseState = { held: false, cancelRequested: false };
const LEASE_EXPIRED = "the worker stopped responding (lease expired) on the last allowed attempt";

const kindSchema = z.enum(JOB_KINDS);
const enqueueOptionsSchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(100).optional(),
    priority: z.number().int().min(-MAX_PRIORITY).max(MAX_PRIORITY).optional(),
    delayMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600 * 1000)
      .optional(),
  })
  .strict();
const claimOptionsSchema = z
  .object({ kinds: z.array(kindSchema).readonly().optional(), leaseMs: z.number().int().min(100).max(3_600_000) })
  .strict();
const workerIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, "a worker id is printable ASCII without spaces");
const jobIdSchema = z.number().int().positive();

export interface BullmqQueueOptions {
  /** `redis://HOST:PORT[/DB]`. */
  url: string;
  /** BullMQ key prefix (`<prefix>:<kind>:…`); one per installation sharing a Redis. Default "neurflow". */
  prefix?: string;
  /** Back-off before a retry: base · 2^(failures so far), BullMQ's exponential strategy. Default 2000. */
  backoffBaseMs?: number;
  /** How often each worker's stalled-job check runs; default leaseMs / 2 (at least 100 ms). */
  stalledIntervalMs?: number;
  /** How often `reapExpired` also runs `reconcile`; default 30 s. */
  reconcileEveryMs?: number;
  /** How long `enqueue` waits for Redis before answering (the job is kept in the database either way). Default 5 s. */
  enqueueWaitMs?: number;
  log?: (line: string) => void;
}

export function bullJobId(id: number): string {
  return `job-${id}`;
}

function recordId(bullId: string | undefined): number | null {
  const m = /^job-(\d+)$/.exec(bullId ?? "");
  return m ? Number(m[1]) : null;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message || e.name : String(e);
}

export class BullmqJobQueue implements JobQueue {
  readonly prefix: string;
  /** The record operations (rows of `jobs`, `job_events`) are the SQLite queue's, on the same database. */
  private readonly records: SqliteJobQueue;
  private readonly connection: Redis;
  private readonly queues = new Map<JobKind, Queue>();
  private readonly workers = new Map<string, BullWorker>();
  /** Jobs this process claimed and still holds (for lock renewal and settling). */
  private readonly claimed = new Map<number, Job>();
  /** Jobs a claim settled instead of running (their worker had died on the last attempt, or a cancel was pending). */
  private settledAtClaim: JobRecord[] = [];
  private readonly backoffBaseMs: number;
  private readonly reconcileEveryMs: number;
  private readonly enqueueWaitMs: number;
  private readonly stalledIntervalMs: number | undefined;
  private lastReconcile = 0;
  private readonly logLine: (line: string) => void;
  private readonly lastLogged = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly db: Db,
    opts: BullmqQueueOptions,
  ) {
    const url = redisUrlSchema.parse(opts.url);
    this.prefix = z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, "a queue prefix is 1-64 letters, digits, '_', '.' or '-'")
      .parse(opts.prefix ?? "neurflow");
    this.backoffBaseMs = z
      .number()
      .int()
      .min(1)
      .parse(opts.backoffBaseMs ?? 2000);
    this.reconcileEveryMs = opts.reconcileEveryMs ?? 30_000;
    this.enqueueWaitMs = opts.enqueueWaitMs ?? 5000;
    this.stalledIntervalMs = opts.stalledIntervalMs;
    this.logLine = opts.log ?? ((line) => console.warn(`[queue] ${line}`));
    this.records = new SqliteJobQueue(db, { backoffBaseMs: this.backoffBaseMs, backoffMaxMs: Number.MAX_SAFE_INTEGER });
    // BullMQ's workers need `maxRetriesPerRequest: null`: a command waits for Redis to come back
    // (ioredis reconnects by itself) instead of failing after a few tries
    this.connection = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
    this.connection.on("error", (e) => this.warn(`redis: ${errorText(e)}`));
  }

  /** Logs a line at most once per 10 s for the same text (a Redis outage repeats its errors). */
  private warn(line: string): void {
    const now = Date.now();
    if (now - (this.lastLogged.get(line) ?? 0) < 10_000) return;
    this.lastLogged.set(line, now);
    this.logLine(line);
  }

  private queue(kind: JobKind): Queue {
    let q = this.queues.get(kind);
    if (!q) {
      q = new Queue(kind, { connection: this.connection, prefix: this.prefix });
      q.on("error", (e) => this.warn(`queue ${kind}: ${errorText(e)}`));
      this.queues.set(kind, q);
    }
    return q;
  }

  /** The BullMQ worker that claims `kind` with locks of `leaseMs` (manual fetching, concurrency 1), with its stalled-job check. */
  private worker(kind: JobKind, leaseMs: number): BullWorker {
    const key = `${kind}:${leaseMs}`;
    let w = this.workers.get(key);
    if (!w) {
      w = new BullWorker(kind, null, {
        connection: this.connection,
        prefix: this.prefix,
        autorun: false,
        concurrency: 1,
        lockDuration: leaseMs,
        stalledInterval: this.stalledIntervalMs ?? Math.max(100, Math.floor(leaseMs / 2)),
        // a takeover counts as an attempt here (jobs.attempts), and the claim settles a job whose
        // attempts are used up: BullMQ itself never fails a job for stalling
        maxStalledCount: 1_000_000,
      });
      w.on("error", (e) => this.warn(`worker ${kind}: ${errorText(e)}`));
      void w.startStalledCheckTimer();
      this.workers.set(key, w);
    }
    return w;
  }

  /** Resolves when Redis answers within `timeoutMs`, else rejects with a message naming the address. */
  async ping(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.connection.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async dispatch(row: {
    id: number;
    kind: JobKind;
    priority: number;
    runAt: number;
    maxAttempts: number;
  }): Promise<void> {
    await this.queue(row.kind).add(
      row.kind,
      { id: row.id },
      {
        jobId: bullJobId(row.id),
        priority: PRIORITY_MIDDLE - row.priority,
        delay: Math.max(0, row.runAt - Date.now()),
        attempts: row.maxAttempts,
        backoff: { type: "exponential", delay: this.backoffBaseMs },
        // the database keeps the history: Redis keeps only what is still to be done
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  async enqueue<K extends JobKind>(
    kind: K,
    payload: JobPayload<K>,
    opts: EnqueueOptions = {},
  ): Promise<JobRecord<JobPayload<K>>> {
    kindSchema.parse(kind);
    const o = enqueueOptionsSchema.parse(opts);
    const problem = payloadProblem(kind, payload);
    if (problem) throw new Error(problem);
    const record = await this.records.enqueue(kind, payload, o);
    const row = this.db
      .select({
        id: jobs.id,
        kind: jobs.kind,
        priority: jobs.priority,
        runAt: jobs.runAt,
        maxAttempts: jobs.maxAttempts,
      })
      .from(jobs)
      .where(eq(jobs.id, record.id))
      .get()!;
    // the row is the job: if Redis is away, the command waits for it (and reconcile() puts the job
    // there if it never arrives); the caller is answered after at most enqueueWaitMs
    const added = this.dispatch(row).then(
      () => true,
      (e) => {
        this.warn(`job ${row.id} not yet in Redis (reconcile will add it): ${errorText(e)}`);
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([added, new Promise((r) => (timer = setTimeout(r, this.enqueueWaitMs)))]);
    clearTimeout(timer);
    return record;
  }

  /** The kinds to try, best first: a job taken back from a dead worker, then by priority and id; kinds with nothing visible last. */
  private async claimOrder(kinds: readonly JobKind[]): Promise<JobKind[]> {
    const pipe = this.connection.pipeline();
    for (const k of kinds) {
      const keys = this.queue(k).keys;
      pipe.lindex(keys.wait!, -1);
      pipe.zrange(keys.prioritized!, 0, 0, "WITHSCORES");
    }
    const answers = (await pipe.exec()) ?? [];
    const rank = kinds.map((kind, i) => {
      const waitHead = answers[2 * i]?.[1] as string | null | undefined;
      const prio = (answers[2 * i + 1]?.[1] as string[] | undefined) ?? [];
      if (waitHead) return { kind, tier: 0, priority: 0, id: recordId(waitHead) ?? 0 };
      if (prio.length === 2) {
        const score = Number(prio[1]);
        return { kind, tier: 1, priority: Math.floor(score / 2 ** 32), id: recordId(prio[0]) ?? 0 };
      }
      return { kind, tier: 2, priority: 0, id: 0 };
    });
    rank.sort((a, b) => a.tier - b.tier || a.priority - b.priority || a.id - b.id);
    return rank.map((r) => r.kind);
  }

  async claim(workerId: string, opts: ClaimOptions): Promise<JobRecord | null> {
    workerIdSchema.parse(workerId);
    const { kinds, leaseMs } = claimOptionsSchema.parse(opts);
    for (const kind of await this.claimOrder(kinds ?? JOB_KINDS)) {
      const w = this.worker(kind, leaseMs);
      for (;;) {
        const bj = (await w.getNextJob(workerId, { block: false })) as Job | undefined;
        if (!bj) break;
        const record = await this.takeOver(bj, workerId, leaseMs);
        if (record) return record;
      }
    }
    return null;
  }

  /**
   * The database half of a claim, for a job BullMQ has just locked for `workerId`: fences the row
   * (lease_owner) and returns it with its checkpoint, or settles it when it must not run.
   */
  private async takeOver(bj: Job, workerId: string, leaseMs: number): Promise<JobRecord | null> {
    const id = recordId(bj.id);
    const now = Date.now();
    type Decision = { run: number } | { settle: JobStatus; reason: string; settled?: number };
    const decision = this.db.transaction(
      (tx): Decision => {
        const row = id == null ? undefined : tx.select().from(jobs).where(eq(jobs.id, id)).get();
        if (!row) return { settle: "failed", reason: "no such job in the database" };
        if (isTerminal(row.status)) return { settle: row.status, reason: `already ${row.status}` };
        let end: { status: "failed" | "canceled"; error: string | null } | null = null;
        if (row.status === "running" && row.cancelRequested) end = { status: "canceled", error: row.error };
        else if (row.status === "running" && row.attempts >= row.maxAttempts)
          end = { status: "failed", error: row.error ? `${row.error}; ${LEASE_EXPIRED}` : LEASE_EXPIRED };
        else {
          const problem = payloadProblem(row.kind, row.payload);
          if (problem) end = { status: "failed", error: problem };
        }
        if (end) {
          tx.update(jobs)
            .set({
              status: end.status,
              error: end.error,
              leaseOwner: null,
              leaseExpiresAt: null,
              finishedAt: now,
              updatedAt: now,
            })
            .where(eq(jobs.id, row.id))
            .run();
          tx.insert(jobEvents)
            .values({
              jobId: row.id,
              type: "status",
              data: end.status === "failed" ? { status: "failed", error: end.error } : { status: "canceled" },
              createdAt: now,
            })
            .run();
          return { settle: end.status, reason: end.error ?? end.status, settled: row.id };
        }
        const updated = tx
          .update(jobs)
          .set({
            status: "running",
            leaseOwner: workerId,
            leaseExpiresAt: now + leaseMs,
            heartbeatAt: now,
            attempts: sql`${jobs.attempts} + 1`,
            startedAt: sql`coalesce(${jobs.startedAt}, ${now})`,
            updatedAt: now,
          })
          .where(eq(jobs.id, row.id))
          .returning()
          .get()!;
        tx.insert(jobEvents)
          .values({
            jobId: row.id,
            type: "status",
            data: {
              status: "running",
              attempt: updated.attempts,
              worker: workerId,
              resumed: updated.checkpoint != null,
            },
            createdAt: now,
          })
          .run();
        return { run: row.id };
      },
      { behavior: "immediate" },
    );
    if ("run" in decision) {
      this.claimed.set(decision.run, bj);
      return this.records.get(decision.run);
    }
    await this.settleInRedis(bj, workerId, decision.settle === "succeeded" ? "completed" : "failed", decision.reason);
    if (decision.settled != null) {
      const record = await this.records.get(decision.settled);
      if (record) this.settledAtClaim.push(record);
    }
    return null;
  }

  /** After the record was settled by the worker holding the job: settles the BullMQ job too (best effort). */
  private async settleHeld(
    jobId: number,
    workerId: string,
    how: "completed" | "failed",
    reason: string,
  ): Promise<void> {
    const bj = await this.bullJob(jobId).catch(() => null);
    this.claimed.delete(jobId);
    if (bj) await this.settleInRedis(bj, workerId, how, reason);
  }

  private async settleInRedis(bj: Job, token: string, how: "completed" | "failed", reason: string): Promise<void> {
    try {
      if (how === "completed") await bj.moveToCompleted(null, token, false);
      else await bj.moveToFailed(new UnrecoverableError(reason), token, false);
    } catch (e) {
      // the lock is gone (the stalled check will hand the job out again, and the next claim settles it) or Redis is away
      this.warn(`job ${bj.id}: could not settle it in Redis: ${errorText(e)}`);
    }
  }

  /** The BullMQ job of record `id` (claimed here, or looked up in Redis). */
  private async bullJob(id: number): Promise<Job | null> {
    const held = this.claimed.get(id);
    if (held) return held;
    if (this.closed) return null;
    const row = this.db.select({ kind: jobs.kind }).from(jobs).where(eq(jobs.id, id)).get();
    if (!row) return null;
    return (await Job.fromId(this.queue(row.kind), bullJobId(id))) ?? null;
  }

  async renew(jobId: number, workerId: string, leaseMs: number): Promise<LeaseState> {
    jobIdSchema.parse(jobId);
    workerIdSchema.parse(workerId);
    z.number().int().min(100).max(3_600_000).parse(leaseMs);
    const bj = await this.bullJob(jobId);
    if (!bj) return LOST;
    // BullMQ's lock is the lease: extended only while its value is still this worker's id
    const extended = await bj.extendLock(workerId, leaseMs);
    if (Number(extended) !== 1) {
      if (bj.token === workerId) this.claimed.delete(jobId);
      return LOST;
    }
    return this.records.renew(jobId, workerId, leaseMs);
  }

  progress(jobId: number, workerId: string, update: ProgressUpdate): Promise<LeaseState> {
    jobIdSchema.parse(jobId);
    workerIdSchema.parse(workerId);
    return this.records.progress(jobId, workerId, update);
  }

  log(jobId: number, workerId: string, message: string, data?: Record<string, unknown>): Promise<LeaseState> {
    jobIdSchema.parse(jobId);
    workerIdSchema.parse(workerId);
    return this.records.log(jobId, workerId, message, data);
  }

  checkpoint(
    jobId: number,
    workerId: string,
    checkpoint: unknown,
    data?: Record<string, unknown>,
  ): Promise<LeaseState> {
    jobIdSchema.parse(jobId);
    workerIdSchema.parse(workerId);
    return this.records.checkpoint(jobId, workerId, checkpoint, data);
  }

  async complete(jobId: number, workerId: string, result: unknown): Promise<boolean> {
    jobIdSchema.parse(jobId);
    workerIdSchema.parse(workerId);
    // the record first: once it says succeeded, a redelivery of the job is settled by the claim
    const ok = await this.records.complete(jobId, workerId, result);
    if (ok) await this.settleHeld(jobId, workerId, "completed", "succeeded");
    return ok;
  }

  async fail(jobId: number, workerId: string, error: string, opts: { retryable?: boolean } = {}): Promise<FailOutcome> {
    jobIdSchema.parse(jobId);
    workerIdSchema.parse(workerId);
    z.string().parse(error);
    const row = this.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.id, jobId), eq(jobs.leaseOwner, workerId), eq(jobs.status, "running")))
      .get();
    if (!row) return "lost";
    const bj = await this.bullJob(jobId).catch(() => null);
    this.claimed.delete(jobId);
    const retry = opts.retryable !== false && row.attempts < row.maxAttempts;
    // BullMQ's exponential back-off counts the failures so far (a takeover is not one)
    const delay = this.backoffBaseMs * 2 ** (bj?.attemptsMade ?? row.attempts - 1);
    const now = Date.now();
    const settled = this.db.transaction(
      (tx) => {
        const r = tx
          .update(jobs)
          .set(
            retry
              ? { status: "queued", error, runAt: now + delay, leaseOwner: null, leaseExpiresAt: null, updatedAt: now }
              : { status: "failed", error, finishedAt: now, leaseOwner: null, leaseExpiresAt: null, updatedAt: now },
          )
          .where(and(eq(jobs.id, jobId), eq(jobs.leaseOwner, workerId), eq(jobs.status, "running")))
          .returning({ id: jobs.id })
          .get();
        if (!r) return false;
        tx.insert(jobEvents)
          .values({
            jobId,
            type: "status",
            data: retry
              ? { status: "queued", error, retryInMs: delay, attempt: row.attempts }
              : { status: "failed", error },
            createdAt: now,
          })
          .run();
        return true;
      },
      { behavior: "immediate" },
    );
    if (!settled) return "lost";
    if (bj) {
      try {
        // BullMQ applies the job's attempts and back-off (moves it to delayed) or fails it for good
        await bj.moveToFailed(retry ? new Error(error) : new UnrecoverableError(error), workerId, false);
      } catch (e) {
        this.warn(`job ${jobId}: could not record the failure in Redis: ${errorText(e)}`);
      }
    }
    return retry ? "requeued" : "failed";
  }

  async markCanceled(jobId: number, workerId: string): Promise<boolean> {
    jobIdSchema.parse(jobId);
    workerIdSchema.parse(workerId);
    const ok = await this.records.markCanceled(jobId, workerId);
    if (ok) await this.settleHeld(jobId, workerId, "failed", "canceled");
    return ok;
  }

  async cancel(jobId: number): Promise<JobStatus | null> {
    jobIdSchema.parse(jobId);
    const before = await this.records.get(jobId);
    const status = await this.records.cancel(jobId);
    if (before?.status === "queued" && status === "canceled") {
      // a worker that locked it meanwhile finds the row canceled and settles it
      await this.queue(before.kind)
        .remove(bullJobId(jobId))
        .catch((e) => this.warn(`job ${jobId}: not removed from Redis: ${errorText(e)}`));
    }
    return status;
  }

  async reapExpired(): Promise<JobRecord[]> {
    if (Date.now() - this.lastReconcile >= this.reconcileEveryMs) await this.reconcile();
    const out = this.settledAtClaim.splice(0);
    const candidates = this.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.status, "running"), or(eq(jobs.cancelRequested, true), gte(jobs.attempts, jobs.maxAttempts))))
      .all();
    for (const row of candidates) {
      const q = this.queue(row.kind);
      const state = await q.getJobState(bullJobId(row.id));
      if (state === "active") continue; // its worker holds it, or the stalled check has not yet seen its lock expire
      if (state === "waiting" || state === "prioritized" || state === "delayed") {
        if ((await q.remove(bullJobId(row.id))) !== 1) continue; // locked by a claim meanwhile: the claim settles it
      }
      const now = Date.now();
      const end = row.cancelRequested
        ? { status: "canceled" as const, error: row.error }
        : { status: "failed" as const, error: row.error ? `${row.error}; ${LEASE_EXPIRED}` : LEASE_EXPIRED };
      const done = this.db.transaction(
        (tx) => {
          const r = tx
            .update(jobs)
            .set({ ...end, leaseOwner: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now })
            .where(and(eq(jobs.id, row.id), eq(jobs.status, "running"), eq(jobs.attempts, row.attempts)))
            .returning({ id: jobs.id })
            .get();
          if (!r) return false;
          tx.insert(jobEvents)
            .values({
              jobId: row.id,
              type: "status",
              data: end.status === "failed" ? { status: "failed", error: end.error } : { status: "canceled" },
              createdAt: now,
            })
            .run();
          return true;
        },
        { behavior: "immediate" },
      );
      if (done) {
        const record = await this.records.get(row.id);
        if (record) out.push(record);
      }
    }
    return out;
  }

  /**
   * Puts back into Redis every job the database has as queued or running that Redis does not know
   * (same id, priority, remaining delay and attempts). Returns their ids.
   */
  async reconcile(): Promise<number[]> {
    this.lastReconcile = Date.now();
    const rows = this.db
      .select({
        id: jobs.id,
        kind: jobs.kind,
        priority: jobs.priority,
        runAt: jobs.runAt,
        maxAttempts: jobs.maxAttempts,
      })
      .from(jobs)
      .where(inArray(jobs.status, ["queued", "running"]))
      // jobs that had started first (like BullMQ's stalled jobs), then in the order they were queued
      .orderBy(sql`${jobs.status} = 'running' desc`, asc(jobs.id))
      .all();
    if (rows.length === 0) return [];
    const pipe = this.connection.pipeline();
    for (const r of rows) pipe.exists(this.queue(r.kind).toKey(bullJobId(r.id)));
    const answers = (await pipe.exec()) ?? [];
    const missing = rows.filter((_, i) => {
      const [err, n] = answers[i] ?? [new Error("no answer"), 0];
      return !err && Number(n) === 0;
    });
    for (const r of missing) await this.dispatch(r);
    if (missing.length)
      this.logLine(`reconcile: ${missing.length} job(s) put back into Redis: ${missing.map((r) => r.id).join(", ")}`);
    return missing.map((r) => r.id);
  }

  get(jobId: number): Promise<JobRecord | null> {
    return this.records.get(jobId);
  }

  events(jobId: number, afterId: number, limit?: number): Promise<JobEvent[]> {
    return this.records.events(jobId, afterId, limit);
  }

  /** Closes the BullMQ workers and queues and the Redis connection (jobs this process holds are left to their locks). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.workers.values()].map((w) => w.close(true)));
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.connection.disconnect();
  }
}
