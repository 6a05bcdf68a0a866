/**
 * The workers that registered through the internal API: who they are (id, host, backend, kinds),
 * what they hold (current job) and when they were last heard of. Every worker call is a heartbeat;
 * a claim sets the current job, settling it clears it. Local workers (NEURFLOW_DB) are not listed:
 * they never call the API.
 */
import { and, desc, eq, isNull } from "drizzle-orm";
import type { Db } from "~/db/client";
import { jobs, workerNodes, workerTokens } from "~/db/schema";

export interface WorkerHello {
  workerId: string;
  host: string;
  backend: string;
  kinds: string[];
  version?: string | null;
}

export function registerWorker(db: Db, tokenId: number, hello: WorkerHello, now = Date.now()): void {
  db.insert(workerNodes)
    .values({
      id: hello.workerId,
      tokenId,
      host: hello.host,
      backend: hello.backend,
      kinds: hello.kinds,
      version: hello.version ?? null,
      startedAt: now,
      lastSeenAt: now,
      currentJobId: null,
      stoppedAt: null,
    })
    .onConflictDoUpdate({
      target: workerNodes.id,
      set: {
        tokenId,
        host: hello.host,
        backend: hello.backend,
        kinds: hello.kinds,
        version: hello.version ?? null,
        lastSeenAt: now,
        currentJobId: null,
        stoppedAt: null,
      },
    })
    .run();
}

/** True when `workerId` registered with this token (a token cannot speak for another token's workers). */
export function workerBelongsTo(db: Db, workerId: string, tokenId: number): boolean {
  const row = db.select({ tokenId: workerNodes.tokenId }).from(workerNodes).where(eq(workerNodes.id, workerId)).get();
  return row?.tokenId === tokenId;
}

/** A call from the worker: last heard of now; `currentJobId` when the call says what it holds. */
export function touchWorker(db: Db, workerId: string, currentJobId?: number | null, now = Date.now()): void {
  db.update(workerNodes)
    .set(currentJobId === undefined ? { lastSeenAt: now } : { lastSeenAt: now, currentJobId })
    .where(eq(workerNodes.id, workerId))
    .run();
}

export function workerStopped(db: Db, workerId: string, now = Date.now()): void {
  db.update(workerNodes)
    .set({ stoppedAt: now, lastSeenAt: now, currentJobId: null })
    .where(and(eq(workerNodes.id, workerId), isNull(workerNodes.stoppedAt)))
    .run();
}

export interface WorkerListEntry {
  id: string;
  host: string;
  backend: string;
  kinds: string[];
  version: string | null;
  tokenName: string;
  tokenRevoked: boolean;
  startedAt: number;
  lastSeenAt: number;
  currentJobId: number | null;
  /** The job it holds: kind, progress (0..1) and, for a circuit job, its run. */
  currentJob: { id: number; kind: string; progress: number; runId: number | null } | null;
  stoppedAt: number | null;
}

/** The most recently heard-of workers first (at most `limit`). */
export function listWorkers(db: Db, limit = 100): WorkerListEntry[] {
  return db
    .select({
      id: workerNodes.id,
      host: workerNodes.host,
      backend: workerNodes.backend,
      kinds: workerNodes.kinds,
      version: workerNodes.version,
      tokenName: workerTokens.name,
      revokedAt: workerTokens.revokedAt,
      startedAt: workerNodes.startedAt,
      lastSeenAt: workerNodes.lastSeenAt,
      currentJobId: workerNodes.currentJobId,
      stoppedAt: workerNodes.stoppedAt,
      jobKind: jobs.kind,
      jobProgress: jobs.progress,
      jobPayload: jobs.payload,
    })
    .from(workerNodes)
    .innerJoin(workerTokens, eq(workerTokens.id, workerNodes.tokenId))
    .leftJoin(jobs, eq(jobs.id, workerNodes.currentJobId))
    .orderBy(desc(workerNodes.lastSeenAt))
    .limit(limit)
    .all()
    .map(({ revokedAt, jobKind, jobProgress, jobPayload, ...w }) => {
      const runId = jobKind === "circuit" ? (jobPayload as { runId?: unknown } | null)?.runId : null;
      return {
        ...w,
        tokenRevoked: revokedAt != null,
        currentJob:
          w.currentJobId != null && jobKind != null
            ? {
                id: w.currentJobId,
                kind: jobKind,
                progress: jobProgress ?? 0,
                runId: typeof runId === "number" ? runId : null,
              }
            : null,
      };
    });
}
