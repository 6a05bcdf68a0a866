/**
 * The one place that builds the job queue from the environment, for the web app, the worker and
 * the demo: `NEURFLOW_QUEUE` unset (or empty) is the SQLite queue on the application database;
 * `NEURFLOW_QUEUE=redis://HOST:PORT[/DB]` is BullMQ on that Redis (`NEURFLOW_QUEUE_PREFIX`, default
 * "neurflow", names its keys). Anything else is refused with a message that says what is expected.
 */
import type { Db } from "~/db/client";
import { BullmqJobQueue } from "./bullmqQueue";
import { type QueueConfig, queueConfig } from "./queueConfig";
import type { JobQueue } from "./queue";
import { SqliteJobQueue } from "./sqliteQueue";

export { describeQueue, queueConfig, type QueueConfig } from "./queueConfig";

export function createJobQueue(db: Db, config: QueueConfig = queueConfig()): JobQueue {
  if (config.kind === "sqlite") return new SqliteJobQueue(db);
  return new BullmqJobQueue(db, { url: config.url, prefix: config.prefix });
}
