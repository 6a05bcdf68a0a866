/**
 * The web app's health for load balancers and for the worker's start-up check: the database
 * answers, the queue answers (Redis pinged when it is BullMQ), and how many workers were heard of in
 * the last minute. No addresses, names or versions of anything behind it: it needs no sign-in.
 */
import { and, gte, isNull, sql } from "drizzle-orm";
import type { Db } from "~/db/client";
import { workerNodes } from "~/db/schema";
import type { JobQueue } from "~/server/jobs/queue";
import { queueConfig } from "~/server/jobs/queueConfig";

export interface Health {
  status: "ok" | "degraded";
  database: "ok" | "error";
  queue: { kind: "sqlite" | "redis" | "misconfigured"; status: "ok" | "error" };
  /** Remote workers heard of in the last 60 s. */
  workers: number;
}

export async function health(db: Db, queue: JobQueue, now = Date.now()): Promise<Health> {
  let database: Health["database"] = "ok";
  let workers = 0;
  try {
    workers =
      db
        .select({ n: sql<number>`count(*)` })
        .from(workerNodes)
        .where(and(gte(workerNodes.lastSeenAt, now - 60_000), isNull(workerNodes.stoppedAt)))
        .get()?.n ?? 0;
  } catch {
    database = "error";
  }
  let kind: Health["queue"]["kind"];
  try {
    kind = queueConfig().kind;
  } catch {
    kind = "misconfigured";
  }
  let queueStatus: "ok" | "error" = kind === "misconfigured" ? "error" : "ok";
  const ping = (queue as { ping?: (ms: number) => Promise<void> }).ping;
  if (typeof ping === "function")
    await ping.call(queue, 2000).catch(() => {
      queueStatus = "error";
    });
  return {
    status: database === "ok" && queueStatus === "ok" ? "ok" : "degraded",
    database,
    queue: { kind, status: queueStatus },
    workers,
  };
}
