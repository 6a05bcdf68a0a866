/**
 * The job queue as the rest of the platform sees it. `SqliteJobQueue` (sqliteQueue.ts) fills it
 * on the application database; `BullmqJobQueue` (bullmqQueue.ts) on BullMQ (Redis) for deployments
 * with one worker per GPU (docs/platform.md, "Jobs on BullMQ"). `createQueue.ts` picks one.
 *
 * Contract:
 * - `claim` hands a job to exactly one worker and gives it a lease until `leaseExpiresAt`.
 *   A queued job, or a running job whose lease has expired (its worker died), can be claimed.
 * - Every write from a worker (`renew`, `progress`, `log`, `checkpoint`, `complete`, `fail`,
 *   `markCanceled`) names the worker and takes effect only while that worker holds the lease;
 *   the answer says whether it still does and whether a cancel was requested.
 * - The last checkpoint survives the worker: the next claim returns it, so the handler resumes.
 */
import type { JobEventType, JobKind, JobStatus } from "~/db/schema";
import type { JobPayload } from "./kinds";

export interface JobRecord<P = unknown> {
  id: number;
  kind: JobKind;
  status: JobStatus;
  payload: P;
  attempts: number;
  maxAttempts: number;
  progress: number;
  message: string | null;
  checkpoint: unknown;
  result: unknown;
  error: string | null;
  cancelRequested: boolean;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface JobEvent {
  /** Monotone per queue: the id a subscriber resumes after. */
  id: number;
  jobId: number;
  type: JobEventType;
  data: Record<string, unknown>;
  createdAt: number;
}

export interface LeaseState {
  /** False when another worker has taken the job over or it was settled: stop, write nothing more. */
  held: boolean;
  cancelRequested: boolean;
}

export interface EnqueueOptions {
  maxAttempts?: number;
  priority?: number;
  /** Not claimable before now + delayMs. */
  delayMs?: number;
}

export interface ClaimOptions {
  /** Kinds this worker can run (all when absent). */
  kinds?: readonly JobKind[];
  leaseMs: number;
}

export interface ProgressUpdate {
  /** 0..1 */
  fraction: number;
  message?: string;
  data?: Record<string, unknown>;
}

export type FailOutcome = "requeued" | "failed" | "lost";

export interface JobQueue {
  /** Queues a job; a payload that is not its kind's (server/jobs/kinds/) is refused with a clear error. */
  enqueue<K extends JobKind>(kind: K, payload: JobPayload<K>, opts?: EnqueueOptions): Promise<JobRecord<JobPayload<K>>>;
  /** Atomically takes the next claimable job (queued, or running with an expired lease). */
  claim(workerId: string, opts: ClaimOptions): Promise<JobRecord | null>;
  /** Heartbeat: extends the lease to now + leaseMs. */
  renew(jobId: number, workerId: string, leaseMs: number): Promise<LeaseState>;
  progress(jobId: number, workerId: string, update: ProgressUpdate): Promise<LeaseState>;
  log(jobId: number, workerId: string, message: string, data?: Record<string, unknown>): Promise<LeaseState>;
  /** Stores the handler's resume point (plain JSON), replacing the previous one. */
  checkpoint(jobId: number, workerId: string, checkpoint: unknown, data?: Record<string, unknown>): Promise<LeaseState>;
  complete(jobId: number, workerId: string, result: unknown): Promise<boolean>;
  /** Requeues with back-off while attempts remain and `retryable`, else fails for good. */
  fail(jobId: number, workerId: string, error: string, opts?: { retryable?: boolean }): Promise<FailOutcome>;
  /** The worker acknowledges a requested cancel (after stopping). */
  markCanceled(jobId: number, workerId: string): Promise<boolean>;
  /** Queued → canceled at once; running → cancel requested (the worker stops at its next heartbeat). */
  cancel(jobId: number): Promise<JobStatus | null>;
  /**
   * Settles running jobs whose lease expired and that may not be taken over again
   * (attempts exhausted → failed; cancel requested → canceled). Returns them.
   */
  reapExpired(): Promise<JobRecord[]>;
  get(jobId: number): Promise<JobRecord | null>;
  events(jobId: number, afterId: number, limit?: number): Promise<JobEvent[]>;
}

/** The part of the queue a worker uses: what `RemoteJobQueue` (platform/http.ts) forwards to the platform over HTTP. */
export type WorkerQueue = Pick<
  JobQueue,
  "reapExpired" | "claim" | "renew" | "progress" | "log" | "checkpoint" | "complete" | "fail" | "markCanceled"
>;

export const TERMINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "canceled"];
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}
