/**
 * Redis restarted (SIGTERM; it persists with its append-only file) while two real worker processes
 * (fake engine) run four circuit runs on BullMQ: the clients reconnect, nothing is lost, every run
 * succeeds once with the circuit of an undisturbed run, and nothing is computed twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { eq, inArray } from "drizzle-orm";
import { circuits, jobEvents, jobs } from "~/db/schema";
import { BullmqJobQueue } from "~/server/jobs/bullmqQueue";
import { fakeEngine } from "../helpers/fakeEngine";
import { FIXTURE_IMAGES, modelForm } from "../helpers/fixtures";
import { spawnFakeWorker, waitFor } from "../helpers/fakeWorkers";
import { startRedis, type RedisServer } from "../helpers/redisServer";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

let env: TestEnv;
let redis: RedisServer;
const children: ChildProcess[] = [];
beforeAll(async () => {
  redis = await startRedis();
  const url = redis.url;
  env = await makeEnv({ jobQueue: (db) => new BullmqJobQueue(db, { url, prefix: "restart", log: () => {} }) });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await (env.queue as BullmqJobQueue).close();
  env.close();
  await redis.close();
});

function startWorker(trace: string): ChildProcess {
  return spawnFakeWorker(
    {
      NEURFLOW_DB: env.dbPath,
      NEURFLOW_QUEUE: redis.url,
      NEURFLOW_QUEUE_PREFIX: "restart",
      // longer than the outage plus the clients' reconnect back-off: the running jobs keep their locks
      NEURFLOW_LEASE_MS: "10000",
      FAKE_LAYER_DELAY_MS: "400",
      FAKE_TRACE_FILE: trace,
    },
    children,
  );
}

describe("a Redis restart while worker processes run", () => {
  it("loses no job: every run succeeds once with its undisturbed circuit, nothing computed twice", async () => {
    const modelId = (await env.as.annotator.models.upload(modelForm())).id;
    env.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.kind, "validateModel")).run();
    const datasetId = (await env.as.admin.datasets.registerFolder({ name: "fixture", path: FIXTURE_IMAGES })).id;
    const layers = ["fc", "layer4.1", "layer4.0", "layer3.1"];
    const pairs = layers.length - 1;
    const params = { tau: 3, k: 8, igSteps: 8 };
    const classes = ["bee", "ladybug", "fish", "sun"];
    const started: { id: number; jobId: number; className: string }[] = [];
    for (const className of classes)
      started.push({
        ...(await env.as.annotator.runs.start({ modelId, datasetId, className, layers, ...params })),
        className,
      });
    const jobIds = started.map((r) => r.jobId);
    const rows = () => env.db.select().from(jobs).where(inArray(jobs.id, jobIds)).all();
    const trace = join(env.dir, "trace.txt");
    const a = startWorker(trace);
    const b = startWorker(trace);

    // restart Redis while a run is between two checkpoints and others still wait in Redis
    await waitFor("a checkpoint", () =>
      rows().some((j) => ((j.checkpoint as { layers?: unknown[] } | null)?.layers?.length ?? 0) >= 1),
    );
    const queuedAtStop = rows().filter((j) => j.status === "queued").length;
    expect(queuedAtStop).toBeGreaterThanOrEqual(1);
    await redis.stop("SIGTERM");
    await new Promise((r) => setTimeout(r, 1000));
    await redis.start();

    const all = await waitFor(
      "every run to finish",
      () => {
        const r = rows();
        return r.every((j) => j.status !== "queued" && j.status !== "running") ? r : null;
      },
      90_000,
    );
    a.kill("SIGTERM");
    b.kill("SIGTERM");
    const statusEvents = env.db
      .select()
      .from(jobEvents)
      .where(inArray(jobEvents.jobId, jobIds))
      .all()
      .filter((e) => e.type === "status");
    expect(
      all.map((j) => [j.status, j.attempts]),
      JSON.stringify(statusEvents.map((e) => [e.jobId, e.createdAt, e.data])),
    ).toStrictEqual(classes.map(() => ["succeeded", 1]));
    const traced = readFileSync(trace, "utf8").trim().split("\n");
    expect(traced).toHaveLength(classes.length * pairs);
    const events = env.db.select().from(jobEvents).where(inArray(jobEvents.jobId, jobIds)).all();
    expect(events.filter((e) => e.type === "status" && e.data.status === "succeeded")).toHaveLength(classes.length);
    for (const r of started) {
      const stored = env.db.select().from(circuits).where(eq(circuits.runId, r.id)).all();
      expect(stored).toHaveLength(1);
      const undisturbed = await fakeEngine()(
        { manifestPath: "", images: "", className: r.className, layers, params: { preset: "default", ...params } },
        {},
      );
      expect(await env.as.viewer.circuits.export({ id: stored[0]!.id })).toStrictEqual(undisturbed);
    }
  });
});
