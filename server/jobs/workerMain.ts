/**
 * The worker process (`npm run worker`): runs circuit, model-check, label, heatmap and evaluation
 * jobs until SIGINT/SIGTERM. Several workers may run at once (one per GPU); each claims its own jobs.
 *
 * - On the web server's machine it opens the database (NEURFLOW_DB) and the queue: the SQLite one,
 *   or BullMQ on Redis with `NEURFLOW_QUEUE=redis://HOST:PORT[/DB]`.
 * - On any other machine it is given `NEURFLOW_PLATFORM_URL` and `NEURFLOW_WORKER_TOKEN` and reaches
 *   the queue, the records and the files only through the platform's internal API (never the
 *   database); model and dataset files are cached on its disk (NEURFLOW_WORKER_CACHE).
 *
 * It prints its backend, the queue and the platform it serves, and refuses to start (exit 2) when
 * the configuration is wrong: both or neither mode half-given, Redis or the platform not answering,
 * a bad or revoked token. A token revoked while it runs stops it (exit 3): its job is left to its
 * lease, and another worker resumes it from its last checkpoint. On a signal the current job is
 * abandoned the same way.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { BullmqJobQueue } from "./bullmqQueue";
import { createJobQueue, describeQueue } from "./createQueue";
import { engineBackend, loadEngine, loadModelChecker } from "./engine";
import { circuitJobHandler } from "./handlers/circuitJob";
import { conceptMatchJobHandler } from "./handlers/conceptMatchJob";
import { evaluationJobHandler } from "./handlers/evaluationJob";
import { heatmapJobHandler } from "./handlers/heatmapJob";
import { patchActivationsJobHandler } from "./handlers/patchActivationsJob";
import { labelJobHandler } from "./handlers/labelJob";
import { validateModelHandler } from "./handlers/validateModelJob";
import { LabelClient } from "~/server/labeling/client";
import { labelConfig } from "~/server/labeling/config";
import { storageRoot } from "~/server/storage/paths";
import type { JobKind } from "~/db/schema";
import type { JobHandler } from "./worker";
import type { WorkerQueue } from "./queue";
import type { WorkerPlatform } from "./platform/port";
import { Worker } from "./worker";
import { workerConfig, type WorkerConfig } from "./workerConfig";

const fatal = (message: string, code = 2): never => {
  console.error(`[worker] ${message}`);
  process.exit(code);
};

let config: WorkerConfig;
try {
  config = workerConfig();
} catch (e) {
  fatal((e as Error).message);
}
config = config!;
const workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
const leaseMs = Number(process.env.NEURFLOW_LEASE_MS ?? 30_000);
let backend: string;
try {
  backend = await engineBackend();
} catch (e) {
  fatal(`the engine cannot start: ${(e as Error).message}`);
}
backend = backend!;

let queue: WorkerQueue;
let platform: WorkerPlatform;
let serves: string;
let queueWhere: string;
let bye: () => Promise<void> = async () => {};
let worker: Worker | null = null;
let extra: Partial<Record<JobKind, JobHandler<never>>> = {};
if (config.mode === "remote") {
  const { connectRemote } = await import("./platform/remoteWorker");
  // a remote worker never opens the database: anything that tried would fail loudly here
  (globalThis as { __neurflowDb?: unknown }).__neurflowDb = new Proxy(
    {},
    {
      get() {
        throw new Error("a remote worker (NEURFLOW_PLATFORM_URL) never opens the database");
      },
    },
  );
  try {
    const c = await connectRemote({
      platformUrl: config.platformUrl,
      token: config.token,
      workerId,
      host: hostname(),
      backend,
      kinds: config.kinds,
      version: process.env.npm_package_version,
      onRefused: (e) => {
        console.error(
          `[worker] the platform refused this worker's token (${e.message}); stopping. The job it held goes back to the queue when its lease expires.`,
        );
        void (worker?.stop({ abort: true }) ?? Promise.resolve()).then(() => process.exit(3));
      },
    });
    queue = c.queue;
    platform = c.platform;
    queueWhere = c.queueWhere;
    const cap = c.cache.maxBytes;
    serves = `the platform at ${config.platformUrl} (file cache ${c.cache.root}, ${cap == null ? "no size cap" : `at most ${(cap / 1024 ** 3).toFixed(1)} GiB`})`;
    bye = async () => {
      await c.api.call("bye", {}).catch(() => {});
    };
  } catch (e) {
    fatal((e as Error).message);
  }
} else {
  const { openDb } = await import("~/db/client");
  const db = openDb();
  const q = createJobQueue(db, config.queue);
  if (q instanceof BullmqJobQueue) {
    try {
      await q.ping(10_000);
    } catch (e) {
      fatal(`the queue's Redis (${describeQueue(config.queue)}) does not answer: ${(e as Error).message}`);
    }
  }
  queue = q;
  const { localPlatform } = await import("./platform/local");
  platform = localPlatform(db, storageRoot());
  queueWhere = describeQueue(config.queue);
  serves = platform.where;
  // patch activations and concept matches read the database and the storage folder directly: local workers only
  extra = {
    patchActivations: patchActivationsJobHandler(db, storageRoot()),
    conceptMatch: conceptMatchJobHandler(db),
  };
}

const all: Partial<Record<JobKind, JobHandler<never>>> = {
  circuit: circuitJobHandler(platform!, loadEngine),
  validateModel: validateModelHandler(platform!, loadModelChecker),
  // read per job from this process's environment (OPENAI_API_KEY, OPENAI_BASE_URL, NEURFLOW_LABEL_MODEL, …)
  label: labelJobHandler(platform!, () => new LabelClient(labelConfig())),
  heatmaps: heatmapJobHandler(platform!),
  evaluation: evaluationJobHandler(platform!),
  ...extra,
};
const handlers = Object.fromEntries(config.kinds.filter((k) => all[k]).map((k) => [k, all[k]!]));
worker = new Worker({
  queue: queue!,
  workerId,
  leaseMs,
  handlers,
  log: (line) => console.log(`[worker ${new Date().toISOString()}] ${line}`),
});

console.log(
  `[worker] ${workerId} started: backend ${backend}; queue ${queueWhere!}; serving ${serves!}; kinds ${Object.keys(handlers).join(", ")}; lease ${leaseMs} ms`,
);
let signals = 0;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (++signals > 1) process.exit(1);
    console.log(`[worker] ${sig}: stopping`);
    void worker!
      .stop({ abort: true })
      .then(bye)
      .then(() => process.exit(0));
  });
}
void worker.start();
