/**
 * The worker loop: claim a job, run its handler under a lease kept alive by a heartbeat, settle
 * it. A cancel request or a lost lease aborts the handler through its AbortSignal. The handler
 * stores checkpoints; when this process dies, another worker claims the job after the lease
 * expires and the handler resumes from the last checkpoint (`ctx.job.checkpoint`).
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { JobKind, JobStatus } from "~/db/schema";
import type { JobRecord, LeaseState, WorkerQueue } from "./queue";

export interface JobContext<P = unknown> {
  job: JobRecord<P>;
  workerId: string;
  /** Aborted on cancel (reason "canceled") or when the lease is lost (reason "lease-lost"). */
  signal: AbortSignal;
  /** Throttled (at most one write per `progressIntervalMs`, except forced / final). */
  progress(fraction: number, message: string, data?: Record<string, unknown>, force?: boolean): Promise<void>;
  log(message: string, data?: Record<string, unknown>): Promise<void>;
  checkpoint(value: unknown, data?: Record<string, unknown>): Promise<void>;
}

export interface JobOutcome {
  status: JobStatus;
  error?: string;
  result?: unknown;
}

export interface JobHandler<P = unknown> {
  run(ctx: JobContext<P>): Promise<unknown>;
  /** Called after the job is settled (or requeued), including jobs reaped after their worker died. */
  settled?(job: JobRecord<P>, outcome: JobOutcome): Promise<void> | void;
}

/** An error that retrying cannot fix (bad input): fails the job at once. */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

export interface WorkerOptions {
  queue: WorkerQueue;
  handlers: Partial<Record<JobKind, JobHandler<never>>>;
  workerId?: string;
  leaseMs?: number;
  /** Heartbeat period; default leaseMs / 3. */
  heartbeatMs?: number;
  pollMs?: number;
  progressIntervalMs?: number;
  log?: (line: string) => void;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

export class Worker {
  readonly workerId: string;
  private readonly queue: WorkerQueue;
  private readonly handlers: Partial<Record<JobKind, JobHandler<unknown>>>;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly progressIntervalMs: number;
  private readonly logLine: (line: string) => void;
  private stopping = false;
  private current: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(opts: WorkerOptions) {
    this.queue = opts.queue;
    this.handlers = opts.handlers as Partial<Record<JobKind, JobHandler<unknown>>>;
    this.workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(50, Math.floor(this.leaseMs / 3));
    this.pollMs = opts.pollMs ?? 1000;
    this.progressIntervalMs = opts.progressIntervalMs ?? 250;
    this.logLine = opts.log ?? (() => {});
  }

  private kinds(): JobKind[] {
    return Object.keys(this.handlers) as JobKind[];
  }

  /** Settles dead jobs, then claims and runs at most one job. Returns the outcome, or null when none was claimable. */
  async runOnce(): Promise<JobOutcome | null> {
    for (const job of await this.queue.reapExpired()) {
      await this.handlers[job.kind]?.settled?.(job, { status: job.status, error: job.error ?? undefined });
    }
    const job = await this.queue.claim(this.workerId, { kinds: this.kinds(), leaseMs: this.leaseMs });
    if (!job) return null;
    return this.execute(job);
  }

  private async execute(job: JobRecord): Promise<JobOutcome> {
    const handler = this.handlers[job.kind];
    const queue = this.queue;
    const controller = new AbortController();
    this.current = controller;
    this.logLine(
      `job ${job.id} (${job.kind}) claimed, attempt ${job.attempts}${job.checkpoint != null ? ", resuming" : ""}`,
    );
    const observe = (s: LeaseState) => {
      if (!s.held) controller.abort("lease-lost");
      else if (s.cancelRequested) controller.abort("canceled");
    };
    let lastRenew = Date.now();
    const renew = () => {
      lastRenew = Date.now();
      return queue
        .renew(job.id, this.workerId, this.leaseMs)
        .then(observe, (e) => this.logLine(`heartbeat failed: ${errorText(e)}`));
    };
    const beat = setInterval(() => void renew(), this.heartbeatMs);
    let lastProgress = 0;
    const ctx: JobContext = {
      job,
      workerId: this.workerId,
      signal: controller.signal,
      progress: async (fraction, message, data, force) => {
        const now = Date.now();
        if (!force && fraction < 1 && now - lastProgress < this.progressIntervalMs) return;
        lastProgress = now;
        observe(await queue.progress(job.id, this.workerId, { fraction, message, data }));
        // a handler whose work never yields to the event loop (synchronous tensor code between
        // microtasks) starves the heartbeat timer: its progress calls keep the lease instead
        if (Date.now() - lastRenew >= this.heartbeatMs) await renew();
      },
      log: async (message, data) => observe(await queue.log(job.id, this.workerId, message, data)),
      checkpoint: async (value, data) => observe(await queue.checkpoint(job.id, this.workerId, value, data)),
    };
    let outcome: JobOutcome;
    try {
      if (!handler) throw new PermanentJobError(`no handler for job kind "${job.kind}"`);
      const result = await handler.run(ctx);
      outcome = (await queue.complete(job.id, this.workerId, result ?? null))
        ? { status: "succeeded", result }
        : { status: "running", error: "lease lost before completion" };
    } catch (e) {
      const reason = controller.signal.aborted ? String(controller.signal.reason) : null;
      if (reason === "lease-lost") {
        outcome = { status: "running", error: "lease lost: another worker owns the job" };
      } else if (reason === "canceled") {
        await queue.markCanceled(job.id, this.workerId);
        outcome = { status: "canceled" };
      } else {
        const message = errorText(e);
        const r = await queue.fail(job.id, this.workerId, message, { retryable: !(e instanceof PermanentJobError) });
        outcome =
          r === "requeued"
            ? { status: "queued", error: message }
            : r === "failed"
              ? { status: "failed", error: message }
              : { status: "running", error: message };
      }
    } finally {
      clearInterval(beat);
      this.current = null;
    }
    this.logLine(`job ${job.id} → ${outcome.status}${outcome.error ? `: ${outcome.error}` : ""}`);
    if (outcome.status !== "running") await handler?.settled?.(job, outcome);
    return outcome;
  }

  /** Runs jobs until `stop()`. */
  start(): Promise<void> {
    this.loop ??= (async () => {
      while (!this.stopping) {
        let ran: JobOutcome | null = null;
        try {
          ran = await this.runOnce();
        } catch (e) {
          this.logLine(`worker loop error: ${errorText(e)}`);
        }
        if (!ran && !this.stopping)
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, this.pollMs);
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
      }
    })();
    return this.loop;
  }

  /** Stops after the current job; with `abort`, aborts it (it is then taken over after its lease expires). */
  async stop(opts: { abort?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (opts.abort) this.current?.abort("lease-lost");
    this.wake?.();
    await this.loop;
  }
}
