/** The web process's shared database connection and queue. */
import "server-only";
import { getDb } from "~/db/client";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import type { JobQueue } from "~/server/jobs/queue";

const g = globalThis as unknown as { __neurflowQueue?: JobQueue };

export function getQueue(): JobQueue {
  g.__neurflowQueue ??= new SqliteJobQueue(getDb());
  return g.__neurflowQueue;
}
