/**
 * A worker process like `npm run worker`, but with the fake engine: for the SIGKILL test.
 * Env: NEURFLOW_DB, NEURFLOW_QUEUE (and NEURFLOW_QUEUE_PREFIX), NEURFLOW_LEASE_MS, FAKE_LAYER_DELAY_MS,
 * FAKE_TRACE_FILE.
 */
import { openDb } from "~/db/client";
import { circuitJobHandler } from "~/server/jobs/handlers/circuitJob";
import { createJobQueue } from "~/server/jobs/createQueue";
import { Worker } from "~/server/jobs/worker";
import { fakeEngine } from "./fakeEngine";

const db = openDb();
const worker = new Worker({
  queue: createJobQueue(db),
  leaseMs: Number(process.env.NEURFLOW_LEASE_MS ?? 2000),
  pollMs: 100,
  handlers: {
    circuit: circuitJobHandler(db, async () =>
      fakeEngine({
        layerDelayMs: Number(process.env.FAKE_LAYER_DELAY_MS ?? 300),
        traceFile: process.env.FAKE_TRACE_FILE,
      }),
    ),
  },
  log: (l) => console.log(`[fake worker ${process.pid}] ${l}`),
});
console.log(`[fake worker ${process.pid}] ready`);
void worker.start();
