/** The durable job queue (see server/jobs/sqliteQueue.ts) and each job's event log. */
import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const JOB_KINDS = [
  "circuit",
  "validateModel",
  "label",
  "heatmaps",
  "evaluation",
  "patchActivations",
  "conceptMatch",
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const jobs = sqliteTable(
  "jobs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    kind: text("kind", { enum: JOB_KINDS }).notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull(),
    payload: text("payload", { mode: "json" }).$type<unknown>().notNull(),
    priority: integer("priority").notNull().default(0),
    /** Not claimed before this time (ms since epoch): retry back-off. */
    runAt: integer("run_at").notNull(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: integer("lease_expires_at"),
    heartbeatAt: integer("heartbeat_at"),
    /** Claims so far (a takeover after a lost lease counts as an attempt). */
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(3),
    /** 0..1 */
    progress: real("progress").notNull().default(0),
    message: text("message"),
    /** Last checkpoint the handler stored (plain JSON); survives a lost worker. */
    checkpoint: text("checkpoint", { mode: "json" }).$type<unknown>(),
    result: text("result", { mode: "json" }).$type<unknown>(),
    error: text("error"),
    cancelRequested: integer("cancel_requested", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("jobs_claim_idx").on(t.status, t.kind, t.runAt),
    index("jobs_lease_idx").on(t.status, t.leaseExpiresAt),
  ],
);

export const JOB_EVENT_TYPES = ["status", "progress", "log", "checkpoint"] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

export const jobEvents = sqliteTable(
  "job_events",
  {
    /** Monotone; the SSE event id a reconnecting browser resumes from. */
    id: integer("id").primaryKey({ autoIncrement: true }),
    jobId: integer("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    type: text("type", { enum: JOB_EVENT_TYPES }).notNull(),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("job_events_job_idx").on(t.jobId, t.id)],
);
