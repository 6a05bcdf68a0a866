/**
 * A worker process like `npm run worker`, but with the fake engine: for the SIGKILL tests.
 * Local (NEURFLOW_DB, NEURFLOW_QUEUE and NEURFLOW_QUEUE_PREFIX) or remote (NEURFLOW_PLATFORM_URL,
 * NEURFLOW_WORKER_TOKEN, NEURFLOW_WORKER_CACHE: the platform's internal API only, as
 * server/jobs/workerMain.ts; the fake engine then checks that the model and the class images it was
 * handed are on this machine's disk). Env also: NEURFLOW_LEASE_MS, FAKE_LAYER_DELAY_MS,
 * FAKE_TRACE_FILE; for the label kind in remote mode, the label variables (OPENAI_BASE_URL, …).
 */
import { existsSync, readdirSync } from "node:fs";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { CircuitEngine } from "~/server/jobs/engine";
import { circuitJobHandler } from "~/server/jobs/handlers/circuitJob";
import { labelJobHandler } from "~/server/jobs/handlers/labelJob";
import type { WorkerPlatform } from "~/server/jobs/platform/port";
import type { WorkerQueue } from "~/server/jobs/queue";
import { Worker } from "~/server/jobs/worker";
import { workerConfig } from "~/server/jobs/workerConfig";
import { LabelClient } from "~/server/labeling/client";
import { labelConfig } from "~/server/labeling/config";
import { fakeEngine } from "./fakeEngine";

const config = workerConfig();
const workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
const say = (l: string) => console.log(`[fake worker ${process.pid}] ${l}`);
const engine = fakeEngine({
  layerDelayMs: Number(process.env.FAKE_LAYER_DELAY_MS ?? 300),
  traceFile: process.env.FAKE_TRACE_FILE,
});
let queue: WorkerQueue;
let platform: WorkerPlatform;
let worker: Worker | null = null;
let report = () => {};
if (config.mode === "remote") {
  const { connectRemote } = await import("~/server/jobs/platform/remoteWorker");
  try {
    const c = await connectRemote({
      platformUrl: config.platformUrl,
      token: config.token,
      workerId,
      host: hostname(),
      backend: "fake",
      kinds: config.kinds,
      onRefused: (e) => {
        console.error(`[fake worker ${process.pid}] token refused: ${e.message}`);
        void (worker?.stop({ abort: true }) ?? Promise.resolve()).then(() => process.exit(3));
      },
    });
    queue = c.queue;
    platform = c.platform;
    report = () => say(`cache fetched=${c.cache.stats.fetched} reused=${c.cache.stats.reused}`);
  } catch (e) {
    console.error(`[fake worker ${process.pid}] ${(e as Error).message}`);
    process.exit(2);
  }
} else {
  const { openDb } = await import("~/db/client");
  const { createJobQueue } = await import("~/server/jobs/createQueue");
  const { localPlatform } = await import("~/server/jobs/platform/local");
  const db = openDb();
  queue = createJobQueue(db, config.queue);
  platform = localPlatform(db);
}
/** Remote: the engine's inputs must be real files on this machine (fetched into the cache). */
const checked: CircuitEngine = async (req, o) => {
  if (config.mode === "remote") {
    if (!existsSync(req.manifestPath)) throw new Error(`no manifest at ${req.manifestPath}`);
    const dir = typeof req.images === "string" ? req.images : "";
    if (!existsSync(dir) || readdirSync(dir).length === 0) throw new Error(`no images in ${dir}`);
  }
  const c = await engine(req, o);
  report();
  return c;
};
const kinds = config.kinds;
worker = new Worker({
  queue: queue!,
  workerId,
  leaseMs: Number(process.env.NEURFLOW_LEASE_MS ?? 2000),
  pollMs: 100,
  handlers: {
    circuit: circuitJobHandler(platform!, async () => checked),
    ...(kinds.includes("label") && process.env.OPENAI_BASE_URL
      ? { label: labelJobHandler(platform!, () => new LabelClient(labelConfig())) }
      : {}),
  },
  log: say,
});
say("ready");
void worker.start();
