/** The web process's shared database connection and queue. */
import "server-only";
import { getDb } from "~/db/client";
import { createJobQueue } from "~/server/jobs/createQueue";
import type { JobQueue } from "~/server/jobs/queue";

const g = globalThis as unknown as { __neurflowQueue?: JobQueue };

export function getQueue(): JobQueue {
  // NEURFLOW_QUEUE: unset, the SQLite queue; redis://…, BullMQ (server/jobs/createQueue.ts)
  g.__neurflowQueue ??= createJobQueue(getDb());
  return g.__neurflowQueue;
}
