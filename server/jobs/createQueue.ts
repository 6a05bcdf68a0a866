/**
 * The one place that builds the job queue from the environment, for the web app, the worker and
 * the demo: `NEURFLOW_QUEUE` unset (or empty) is the SQLite queue on the application database;
 * `NEURFLOW_QUEUE=redis://HOST:PORT[/DB]` is BullMQ on that Redis (`NEURFLOW_QUEUE_PREFIX`, default
 * "neurflow", names its keys). Anything else is refused with a message that says what is expected.
 */
import type { Db } from "~/db/client";
import { BullmqJobQueue, redisUrlSchema } from "./bullmqQueue";
import type { JobQueue } from "./queue";
import { SqliteJobQueue } from "./sqliteQueue";

export type QueueConfig = { kind: "sqlite" } | { kind: "redis"; url: string; prefix?: string };

/** Reads `NEURFLOW_QUEUE` / `NEURFLOW_QUEUE_PREFIX`; throws a clear error when they are malformed. */
export function queueConfig(env: Record<string, string | undefined> = process.env): QueueConfig {
  const raw = env.NEURFLOW_QUEUE?.trim() ?? "";
  if (raw === "") return { kind: "sqlite" };
  const url = redisUrlSchema.safeParse(raw);
  if (!url.success)
    throw new Error(
      `NEURFLOW_QUEUE must be unset (the SQLite queue) or redis://HOST:PORT[/DB] (BullMQ on Redis); got "${raw}"`,
    );
  const prefix = env.NEURFLOW_QUEUE_PREFIX?.trim();
  if (prefix !== undefined && prefix !== "" && !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix))
    throw new Error(`NEURFLOW_QUEUE_PREFIX must be 1-64 letters, digits, '_', '.' or '-'; got "${prefix}"`);
  return { kind: "redis", url: url.data, prefix: prefix || undefined };
}

/** Where the queue lives, for log lines (no password). */
export function describeQueue(config: QueueConfig): string {
  if (config.kind === "sqlite") return "SQLite (the application database)";
  const u = new URL(config.url);
  return `BullMQ on ${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname} (prefix ${config.prefix ?? "neurflow"})`;
}

export function createJobQueue(db: Db, config: QueueConfig = queueConfig()): JobQueue {
  if (config.kind === "sqlite") return new SqliteJobQueue(db);
  return new BullmqJobQueue(db, { url: config.url, prefix: config.prefix });
}
