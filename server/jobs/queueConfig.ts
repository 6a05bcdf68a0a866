/**
 * Where the job queue lives, read from the environment (`NEURFLOW_QUEUE`, `NEURFLOW_QUEUE_PREFIX`):
 * unset (or empty) is the SQLite queue on the application database, `redis://HOST:PORT[/DB]` is
 * BullMQ on that Redis. Apart from the queue itself (createQueue.ts), so that what only needs the
 * address (the rate limits' store) does not load BullMQ.
 */
import { z } from "zod";

/** `redis://[user:password@]host:port[/db]` (or `rediss://`): the queue's address, checked. */
export const redisUrlSchema = z
  .string()
  .trim()
  .refine((s) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return false;
    }
    return (
      (u.protocol === "redis:" || u.protocol === "rediss:") &&
      u.hostname !== "" &&
      /^(\/\d{0,2})?$/.test(u.pathname) &&
      u.search === "" &&
      u.hash === ""
    );
  }, "expected redis://HOST:PORT[/DB] (or rediss:// for TLS)");

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
