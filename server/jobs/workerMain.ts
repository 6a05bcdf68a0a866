/**
 * The worker process (`npm run worker`): opens the database, runs circuit, model-check, label, heatmap and evaluation jobs
 * until SIGINT/SIGTERM. Several workers may run at once (one per GPU); each claims its own jobs.
 * The queue is the SQLite one, or BullMQ on Redis with `NEURFLOW_QUEUE=redis://HOST:PORT[/DB]`
 * (server/jobs/createQueue.ts); with Redis the worker refuses to start when Redis does not answer.
 * On a signal the current job is abandoned without writing: its lease expires and a worker
 * resumes it from the last checkpoint.
 */
import { openDb } from "~/db/client";
import { storageRoot } from "~/server/storage/paths";
import { BullmqJobQueue } from "./bullmqQueue";
import { createJobQueue, describeQueue, queueConfig, type QueueConfig } from "./createQueue";
import { loadEngine, loadModelChecker } from "./engine";
import { circuitJobHandler } from "./handlers/circuitJob";
import { conceptMatchJobHandler } from "./handlers/conceptMatchJob";
import { evaluationJobHandler } from "./handlers/evaluationJob";
import { heatmapJobHandler } from "./handlers/heatmapJob";
import { labelJobHandler } from "./handlers/labelJob";
import { validateModelHandler } from "./handlers/validateModelJob";
import { LabelClient } from "~/server/labeling/client";
import { labelConfig } from "~/server/labeling/config";
import { Worker } from "./worker";

let config: QueueConfig;
try {
  config = queueConfig();
} catch (e) {
  console.error(`[worker] ${(e as Error).message}`);
  process.exit(2);
}
const db = openDb();
const queue = createJobQueue(db, config);
if (queue instanceof BullmqJobQueue) {
  try {
    await queue.ping(10_000);
  } catch (e) {
    console.error(`[worker] the queue's Redis (${describeQueue(config)}) does not answer: ${(e as Error).message}`);
    process.exit(2);
  }
}
const leaseMs = Number(process.env.NEURFLOW_LEASE_MS ?? 30_000);
const worker = new Worker({
  queue,
  leaseMs,
  handlers: {
    circuit: circuitJobHandler(db, loadEngine),
    validateModel: validateModelHandler(db, loadModelChecker),
    // read per job from this process's environment (OPENAI_API_KEY, OPENAI_BASE_URL, NEURFLOW_LABEL_MODEL, …)
    label: labelJobHandler(db, () => new LabelClient(labelConfig())),
    heatmaps: heatmapJobHandler(db, storageRoot()),
    evaluation: evaluationJobHandler(db, storageRoot()),
    conceptMatch: conceptMatchJobHandler(db),
  },
  log: (line) => console.log(`[worker ${new Date().toISOString()}] ${line}`),
});

console.log(`[worker] ${worker.workerId} started (lease ${leaseMs} ms, queue: ${describeQueue(config)})`);
let signals = 0;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (++signals > 1) process.exit(1);
    console.log(`[worker] ${sig}: stopping`);
    void worker.stop({ abort: true }).then(() => process.exit(0));
  });
}
void worker.start();
