/**
 * `npm run bench:queue`: a bounded load test of the scale-out deployment on loopback. One web
 * process (the app's route handlers, tests/helpers/routeServer.ts), a real redis-server (BullMQ,
 * append-only file), three remote worker processes (the fake engine; no database, only
 * NEURFLOW_PLATFORM_URL and a worker token) on this machine; queues RUNS small circuit runs
 * (default 200; two layer pairs of FAKE_LAYER_DELAY_MS each, default 20 ms) through `runs.start` and
 * waits for them. Reports throughput, the longest and median wait (queued → claimed), and the
 * per-job queue overhead: a job's wall time in the worker less the engine's own time (the API calls
 * for the run's inputs, progress, checkpoints, the circuit and the settle), and the gap between a
 * worker finishing one job and starting its next (the claim). Stops by itself: everything it started
 * is stopped and removed at the end, and it gives up after 10 minutes.
 *   npm run bench:queue            RUNS=50 npm run bench:queue
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { inArray } from "drizzle-orm";
import { circuits, jobEvents, jobs, workerNodes } from "~/db/schema";
import { BullmqJobQueue } from "~/server/jobs/bullmqQueue";
import { FIXTURE_IMAGES, modelForm } from "../tests/helpers/fixtures";
import { spawnFakeWorker, waitFor } from "../tests/helpers/fakeWorkers";
import { startPlatformServer } from "../tests/helpers/platformServer";
import { startRedis } from "../tests/helpers/redisServer";
import { makeEnv } from "../tests/helpers/testEnv";

const RUNS = Number(process.env.RUNS ?? 200);
const WORKERS = 3;
const DELAY = Number(process.env.FAKE_LAYER_DELAY_MS ?? 20);
const LAYERS = ["fc", "layer4.1", "layer4.0"];
const PAIRS = LAYERS.length - 1;
const CLASSES = ["bee", "car", "fish", "ladybug", "sun", "tree"];
const LIMIT_MS = 10 * 60_000;

const giveUp = setTimeout(() => {
  console.error(`bench:queue: gave up after ${LIMIT_MS / 60_000} minutes`);
  process.exit(1);
}, LIMIT_MS);

const redis = await startRedis();
const env = await makeEnv({
  jobQueue: (db) => new BullmqJobQueue(db, { url: redis.url, prefix: "bench", log: () => {} }),
});
const server = await startPlatformServer({
  NEURFLOW_DB: env.dbPath,
  NEURFLOW_DATA: env.storageRoot,
  NEURFLOW_QUEUE: redis.url,
  NEURFLOW_QUEUE_PREFIX: "bench",
});
const children: ChildProcess[] = [];
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
try {
  const modelId = (await env.as.annotator.models.upload(modelForm())).id;
  env.db
    .update(jobs)
    .set({ status: "canceled" })
    .where(inArray(jobs.kind, ["validateModel"]))
    .run();
  const datasetId = (await env.as.admin.datasets.registerFolder({ name: "fixture", path: FIXTURE_IMAGES })).id;
  const { token } = await env.as.admin.workers.createToken({ name: "bench" });
  for (let i = 0; i < WORKERS; i++)
    spawnFakeWorker(
      {
        NEURFLOW_PLATFORM_URL: server.url,
        NEURFLOW_WORKER_TOKEN: token,
        NEURFLOW_WORKER_CACHE: join(env.dir, `cache-${i}`),
        NEURFLOW_WORKER_KINDS: "circuit",
        NEURFLOW_LEASE_MS: "10000",
        FAKE_LAYER_DELAY_MS: String(DELAY),
      },
      children,
      ["NEURFLOW_DB", "NEURFLOW_QUEUE", "NEURFLOW_QUEUE_PREFIX", "NEURFLOW_DATA"],
    );
  await waitFor("three workers to register", () => env.db.select().from(workerNodes).all().length >= WORKERS, 60_000);

  const t0 = Date.now();
  const jobIds: number[] = [];
  for (let i = 0; i < RUNS; i++)
    jobIds.push(
      (
        await env.as.annotator.runs.start({
          modelId,
          datasetId,
          className: CLASSES[i % CLASSES.length]!,
          layers: LAYERS,
          tau: 3,
          k: 8,
          igSteps: 8,
        })
      ).jobId,
    );
  const queuedIn = Date.now() - t0;
  const rows = await waitFor(
    `${RUNS} runs to finish`,
    () => {
      const r = env.db.select().from(jobs).where(inArray(jobs.id, jobIds)).all();
      return r.every((j) => j.status !== "queued" && j.status !== "running") ? r : null;
    },
    LIMIT_MS - 60_000,
  );
  const t1 = Math.max(...rows.map((j) => j.finishedAt ?? 0));
  const failed = rows.filter((j) => j.status !== "succeeded");
  const stored = env.db.select({ runId: circuits.runId }).from(circuits).all().length;
  const running = env.db
    .select()
    .from(jobEvents)
    .where(inArray(jobEvents.jobId, jobIds))
    .all()
    .filter((e) => e.type === "status" && e.data.status === "running");
  const byJob = new Map(rows.map((j) => [j.id, j]));
  const waits = rows.map((j) => (j.startedAt ?? 0) - j.createdAt);
  const inWorker = rows.map((j) => (j.finishedAt ?? 0) - (j.startedAt ?? 0));
  const engineMs = PAIRS * DELAY;
  // claim gaps: per worker, from one job's finish to the start of its next
  const perWorker = new Map<string, { start: number; end: number }[]>();
  for (const e of running) {
    const j = byJob.get(e.jobId)!;
    const w = String(e.data.worker);
    perWorker.set(w, [...(perWorker.get(w) ?? []), { start: e.createdAt, end: j.finishedAt ?? e.createdAt }]);
  }
  const gaps: number[] = [];
  for (const list of perWorker.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) gaps.push(list[i]!.start - list[i - 1]!.end);
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(
    `queue load: ${RUNS} circuit runs (fake engine, ${PAIRS} layer pairs × ${DELAY} ms) on ${WORKERS} remote workers, BullMQ on redis-server, one web process, loopback`,
  );
  console.log(
    `  succeeded ${RUNS - failed.length}/${RUNS}, circuits stored ${stored}, attempts > 1: ${rows.filter((j) => j.attempts > 1).length}`,
  );
  console.log(
    `  queued in ${s(queuedIn)} (runs.start, one at a time); all finished ${s(t1 - t0)} after the first was queued`,
  );
  console.log(`  throughput ${((RUNS * 1000) / (t1 - t0)).toFixed(1)} runs/s`);
  console.log(`  wait (queued → claimed): longest ${s(Math.max(...waits))}, median ${s(pct(waits, 0.5))}`);
  console.log(
    `  per-job queue overhead in the worker (wall − engine ${engineMs} ms): mean ${(mean(inWorker) - engineMs).toFixed(0)} ms, p95 ${(pct(inWorker, 0.95) - engineMs).toFixed(0)} ms`,
  );
  console.log(
    `  claim gap (a worker's finish → its next start): mean ${mean(gaps).toFixed(0)} ms, p95 ${pct(gaps, 0.95).toFixed(0)} ms; jobs per worker ${[...perWorker.values()].map((l) => l.length).join(", ")}`,
  );
  if (failed.length) process.exitCode = 1;
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  await server.stop();
  if (env.queue instanceof BullmqJobQueue) await env.queue.close();
  env.close();
  await redis.close();
  clearTimeout(giveUp);
}
