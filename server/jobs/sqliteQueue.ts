/**
 * `JobQueue` on the application's SQLite database. A claim is one `UPDATE … RETURNING` whose
 * WHERE picks the next claimable row in a sub-select; SQLite runs the statement under its write
 * lock, so two workers (threads or processes) can never claim the same job.
 */
import { and, asc, desc, eq, gt, inArray, lt, lte, or, sql } from "drizzle-orm";
import type { JobPayload } from "./kinds";
import { payloadProblem } from "./payloads";
import type { Db } from "~/db/client";
import { jobEvents, jobs, type JobEventType, type JobKind, type JobStatus } from "~/db/schema";
import type {
  ClaimOptions,
  EnqueueOptions,
  FailOutcome,
  JobEvent,
  JobQueue,
  JobRecord,
  LeaseState,
  ProgressUpdate,
} from "./queue";

type JobRow = typeof jobs.$inferSelect;

function toRecord(r: JobRow): JobRecord {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    payload: r.payload,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    progress: r.progress,
    message: r.message,
    checkpoint: r.checkpoint ?? null,
    result: r.result ?? null,
    error: r.error,
    cancelRequested: r.cancelRequested,
    leaseOwner: r.leaseOwner,
    leaseExpiresAt: r.leaseExpiresAt,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

const LOST: LeaseState = { held: false, cancelRequested: false };

export interface SqliteQueueOptions {
  /** Clock (ms); tests move it to expire leases. */
  now?: () => number;
  /** Back-off before a retry: base * 2^(attempt-1), capped. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

export class SqliteJobQueue implements JobQueue {
  private readonly now: () => number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;

  constructor(
    private readonly db: Db,
    opts: SqliteQueueOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.backoffBaseMs = opts.backoffBaseMs ?? 2000;
    this.backoffMaxMs = opts.backoffMaxMs ?? 60_000;
  }

  private event(jobId: number, type: JobEventType, data: Record<string, unknown>): void {
    this.db.insert(jobEvents).values({ jobId, type, data, createdAt: this.now() }).run();
  }

  private held(jobId: number, workerId: string) {
    return and(eq(jobs.id, jobId), eq(jobs.leaseOwner, workerId), eq(jobs.status, "running"));
  }

  async enqueue<K extends JobKind>(
    kind: K,
    payload: JobPayload<K>,
    opts: EnqueueOptions = {},
  ): Promise<JobRecord<JobPayload<K>>> {
    const problem = payloadProblem(kind, payload);
    if (problem) throw new Error(problem);
    const now = this.now();
    return this.db.transaction(
      () => {
        const row = this.db
          .insert(jobs)
          .values({
            kind,
            status: "queued",
            payload,
            priority: opts.priority ?? 0,
            runAt: now + (opts.delayMs ?? 0),
            maxAttempts: opts.maxAttempts ?? 3,
            createdAt: now,
            updatedAt: now,
          })
          .returning()
          .get();
        this.event(row.id, "status", { status: "queued" });
        return toRecord(row) as JobRecord<JobPayload<K>>;
      },
      { behavior: "immediate" },
    );
  }

  async claim(workerId: string, opts: ClaimOptions): Promise<JobRecord | null> {
    const now = this.now();
    const claimable = or(
      and(eq(jobs.status, "queued"), lte(jobs.runAt, now)),
      and(
        eq(jobs.status, "running"),
        lt(jobs.leaseExpiresAt, now),
        eq(jobs.cancelRequested, false),
        lt(jobs.attempts, jobs.maxAttempts),
      ),
    );
    const next = this.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(opts.kinds ? and(inArray(jobs.kind, [...opts.kinds]), claimable) : claimable)
      .orderBy(desc(jobs.priority), asc(jobs.id))
      .limit(1);
    return this.db.transaction(
      () => {
        const row = this.db
          .update(jobs)
          .set({
            status: "running",
            leaseOwner: workerId,
            leaseExpiresAt: now + opts.leaseMs,
            heartbeatAt: now,
            attempts: sql`${jobs.attempts} + 1`,
            startedAt: sql`coalesce(${jobs.startedAt}, ${now})`,
            updatedAt: now,
          })
          .where(inArray(jobs.id, next))
          .returning()
          .get();
        if (!row) return null;
        this.event(row.id, "status", {
          status: "running",
          attempt: row.attempts,
          worker: workerId,
          resumed: row.checkpoint != null,
        });
        return toRecord(row);
      },
      { behavior: "immediate" },
    );
  }

  async renew(jobId: number, workerId: string, leaseMs: number): Promise<LeaseState> {
    const now = this.now();
    const row = this.db
      .update(jobs)
      .set({ leaseExpiresAt: now + leaseMs, heartbeatAt: now, updatedAt: now })
      .where(this.held(jobId, workerId))
      .returning({ cancelRequested: jobs.cancelRequested })
      .get();
    return row ? { held: true, cancelRequested: row.cancelRequested } : LOST;
  }

  async progress(jobId: number, workerId: string, u: ProgressUpdate): Promise<LeaseState> {
    const fraction = Math.min(1, Math.max(0, Number.isFinite(u.fraction) ? u.fraction : 0));
    return this.db.transaction(
      () => {
        const row = this.db
          .update(jobs)
          .set({ progress: fraction, message: u.message ?? null, updatedAt: this.now() })
          .where(this.held(jobId, workerId))
          .returning({ cancelRequested: jobs.cancelRequested })
          .get();
        if (!row) return LOST;
        this.event(jobId, "progress", { fraction, message: u.message ?? null, ...u.data });
        return { held: true, cancelRequested: row.cancelRequested };
      },
      { behavior: "immediate" },
    );
  }

  async log(jobId: number, workerId: string, message: string, data: Record<string, unknown> = {}): Promise<LeaseState> {
    return this.db.transaction(
      () => {
        const row = this.db
          .select({ cancelRequested: jobs.cancelRequested })
          .from(jobs)
          .where(this.held(jobId, workerId))
          .get();
        if (!row) return LOST;
        this.event(jobId, "log", { message, ...data });
        return { held: true, cancelRequested: row.cancelRequested };
      },
      { behavior: "immediate" },
    );
  }

  async checkpoint(
    jobId: number,
    workerId: string,
    checkpoint: unknown,
    data: Record<string, unknown> = {},
  ): Promise<LeaseState> {
    return this.db.transaction(
      () => {
        const row = this.db
          .update(jobs)
          .set({ checkpoint, updatedAt: this.now() })
          .where(this.held(jobId, workerId))
          .returning({ cancelRequested: jobs.cancelRequested })
          .get();
        if (!row) return LOST;
        this.event(jobId, "checkpoint", data);
        return { held: true, cancelRequested: row.cancelRequested };
      },
      { behavior: "immediate" },
    );
  }

  private settle(
    jobId: number,
    workerId: string,
    set: Partial<typeof jobs.$inferInsert>,
    data: Record<string, unknown>,
  ): boolean {
    return this.db.transaction(
      () => {
        const now = this.now();
        const row = this.db
          .update(jobs)
          .set({ ...set, leaseOwner: null, leaseExpiresAt: null, updatedAt: now })
          .where(this.held(jobId, workerId))
          .returning({ id: jobs.id })
          .get();
        if (!row) return false;
        this.event(jobId, "status", data);
        return true;
      },
      { behavior: "immediate" },
    );
  }

  async complete(jobId: number, workerId: string, result: unknown): Promise<boolean> {
    const now = this.now();
    return this.settle(
      jobId,
      workerId,
      { status: "succeeded", result: result ?? null, progress: 1, finishedAt: now },
      { status: "succeeded" },
    );
  }

  async fail(jobId: number, workerId: string, error: string, opts: { retryable?: boolean } = {}): Promise<FailOutcome> {
    const job = this.db.select().from(jobs).where(this.held(jobId, workerId)).get();
    if (!job) return "lost";
    const now = this.now();
    if (opts.retryable !== false && job.attempts < job.maxAttempts) {
      const delay = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.max(0, job.attempts - 1));
      const ok = this.settle(
        jobId,
        workerId,
        { status: "queued", error, runAt: now + delay },
        { status: "queued", error, retryInMs: delay, attempt: job.attempts },
      );
      return ok ? "requeued" : "lost";
    }
    const ok = this.settle(jobId, workerId, { status: "failed", error, finishedAt: now }, { status: "failed", error });
    return ok ? "failed" : "lost";
  }

  async markCanceled(jobId: number, workerId: string): Promise<boolean> {
    return this.settle(jobId, workerId, { status: "canceled", finishedAt: this.now() }, { status: "canceled" });
  }

  async cancel(jobId: number): Promise<JobStatus | null> {
    return this.db.transaction(
      () => {
        const now = this.now();
        const job = this.db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, jobId)).get();
        if (!job) return null;
        if (job.status === "queued") {
          this.db
            .update(jobs)
            .set({ status: "canceled", finishedAt: now, updatedAt: now })
            .where(and(eq(jobs.id, jobId), eq(jobs.status, "queued")))
            .run();
          this.event(jobId, "status", { status: "canceled" });
          return "canceled";
        }
        if (job.status === "running") {
          this.db.update(jobs).set({ cancelRequested: true, updatedAt: now }).where(eq(jobs.id, jobId)).run();
          this.event(jobId, "log", { message: "cancel requested" });
          return "running";
        }
        return job.status;
      },
      { behavior: "immediate" },
    );
  }

  async reapExpired(): Promise<JobRecord[]> {
    return this.db.transaction(
      () => {
        const now = this.now();
        const expired = and(eq(jobs.status, "running"), lt(jobs.leaseExpiresAt, now));
        const canceled = this.db
          .update(jobs)
          .set({ status: "canceled", leaseOwner: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now })
          .where(and(expired, eq(jobs.cancelRequested, true)))
          .returning()
          .all();
        const failed = this.db
          .update(jobs)
          .set({
            status: "failed",
            error: sql`coalesce(${jobs.error} || '; ', '') || 'the worker stopped responding (lease expired) on the last allowed attempt'`,
            leaseOwner: null,
            leaseExpiresAt: null,
            finishedAt: now,
            updatedAt: now,
          })
          .where(and(expired, sql`${jobs.attempts} >= ${jobs.maxAttempts}`))
          .returning()
          .all();
        for (const j of canceled) this.event(j.id, "status", { status: "canceled" });
        for (const j of failed) this.event(j.id, "status", { status: "failed", error: j.error });
        return [...canceled, ...failed].map(toRecord);
      },
      { behavior: "immediate" },
    );
  }

  async get(jobId: number): Promise<JobRecord | null> {
    const row = this.db.select().from(jobs).where(eq(jobs.id, jobId)).get();
    return row ? toRecord(row) : null;
  }

  async events(jobId: number, afterId: number, limit = 500): Promise<JobEvent[]> {
    return this.db
      .select()
      .from(jobEvents)
      .where(and(eq(jobEvents.jobId, jobId), gt(jobEvents.id, afterId)))
      .orderBy(asc(jobEvents.id))
      .limit(limit)
      .all();
  }
}
