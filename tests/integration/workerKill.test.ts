/**
 * SIGKILL the worker process mid-run: a new worker takes the job over once the lease expires,
 * resumes after the last finished layer, and stores the same circuit an uninterrupted run gives —
 * once (with the fake engine; the real-engine version comes with the end-to-end tests). On both
 * queues: SQLite, and BullMQ on a real redis-server (the workers get NEURFLOW_QUEUE).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eq, inArray } from "drizzle-orm";
import { circuits, jobEvents, jobs } from "~/db/schema";
import { BullmqJobQueue } from "~/server/jobs/bullmqQueue";
import { fakeEngine } from "../helpers/fakeEngine";
import { FIXTURE_IMAGES, modelForm } from "../helpers/fixtures";
import { spawnFakeWorker, waitFor } from "../helpers/fakeWorkers";
import { startRedis, type RedisServer } from "../helpers/redisServer";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

const QUEUES = [
  { name: "the SQLite queue", redis: false },
  { name: "BullMQ on redis-server", redis: true },
];

describe.each(QUEUES)("$name", ({ redis: useRedis }) => {
  let env: TestEnv;
  let redis: RedisServer | null = null;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    if (useRedis) {
      redis = await startRedis();
      const url = redis.url;
      env = await makeEnv({ jobQueue: (db) => new BullmqJobQueue(db, { url, prefix: "kill", log: () => {} }) });
    } else env = await makeEnv();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    if (env.queue instanceof BullmqJobQueue) await env.queue.close();
    env.close();
    await redis?.close();
  });

  function startWorker(trace: string, leaseMs = 1500): ChildProcess {
    return spawnFakeWorker(
      {
        NEURFLOW_DB: env.dbPath,
        NEURFLOW_QUEUE: redis ? redis.url : "",
        NEURFLOW_QUEUE_PREFIX: "kill",
        NEURFLOW_LEASE_MS: String(leaseMs),
        FAKE_LAYER_DELAY_MS: "500",
        FAKE_TRACE_FILE: trace,
      },
      children,
    );
  }

  describe("worker process killed mid-run", () => {
    it("resumes from the last finished layer in a new process and stores the same circuit once", async () => {
      const modelId = (await env.as.annotator.models.upload(modelForm())).id;
      env.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.kind, "validateModel")).run();
      const datasetId = (await env.as.admin.datasets.registerFolder({ name: "fixture", path: FIXTURE_IMAGES })).id;
      const layers = ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0", "layer2.1"];
      const run = await env.as.annotator.runs.start({
        modelId,
        datasetId,
        className: "ladybug",
        layers,
        tau: 3,
        k: 8,
        igSteps: 8,
      });
      const trace = join(env.dir, "trace.txt");
      const lines = () => (existsSync(trace) ? readFileSync(trace, "utf8").trim().split("\n").filter(Boolean) : []);

      const a = startWorker(trace);
      await waitFor("two finished layers", () => {
        const j = env.db.select().from(jobs).where(eq(jobs.id, run.jobId)).get();
        return ((j?.checkpoint as { layers?: unknown[] } | null)?.layers?.length ?? 0) >= 2;
      });
      a.kill("SIGKILL");
      await waitFor("worker A to die", () => a.signalCode === "SIGKILL");
      const atKill = env.db.select().from(jobs).where(eq(jobs.id, run.jobId)).get()!;
      const doneAtKill = (atKill.checkpoint as { layers: unknown[] }).layers.length;
      expect(atKill.status).toBe("running");
      expect(doneAtKill).toBeLessThan(layers.length - 1);

      const b = startWorker(trace);
      const finished = await waitFor("the run to finish", () => {
        const j = env.db.select().from(jobs).where(eq(jobs.id, run.jobId)).get()!;
        return j.status !== "running" && j.status !== "queued" ? j : null;
      });
      b.kill("SIGTERM");
      expect(finished).toMatchObject({ status: "succeeded", attempts: 2 });

      // each layer pair computed once by A (up to the kill) and the rest by B — nothing redone before the checkpoint
      const byPid = lines().map((l) => l.split(" ").map(Number) as [number, number]);
      const aLayers = byPid.filter(([p]) => p === a.pid).map(([, l]) => l);
      const bLayers = byPid.filter(([p]) => p === b.pid).map(([, l]) => l);
      expect(aLayers.slice(0, doneAtKill)).toStrictEqual([...Array(doneAtKill).keys()]);
      expect(bLayers).toStrictEqual([...Array(layers.length - 1).keys()].slice(doneAtKill));

      const r = await env.as.viewer.runs.get({ id: run.id });
      expect(r.status).toBe("succeeded");
      expect(r.layerTimings.map((t) => t.layer)).toHaveLength(layers.length - 1);
      const uninterrupted = await fakeEngine()(
        {
          manifestPath: "",
          images: "",
          className: "ladybug",
          layers,
          params: { preset: "default", tau: 3, k: 8, igSteps: 8 },
        },
        {},
      );
      expect(await env.as.viewer.circuits.export({ id: r.circuitId! })).toStrictEqual(uninterrupted);
      expect(env.db.select().from(circuits).where(eq(circuits.runId, run.id)).all()).toHaveLength(1);
      const events = await env.queue.events(run.jobId, 0);
      expect(
        events.filter((e) => e.type === "status" && e.data.status === "running").map((e) => e.data.resumed),
      ).toStrictEqual([false, true]);
    });
    it("spreads several runs over two worker processes; one killed mid-run: every run finishes once, with its undisturbed circuit; the run page's stream resumes after an id", async () => {
      const modelId = (await env.as.annotator.models.upload(modelForm())).id;
      env.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.kind, "validateModel")).run();
      const datasetId = (await env.as.admin.datasets.registerFolder({ name: "fixture 2", path: FIXTURE_IMAGES })).id;
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
      const trace = join(env.dir, "trace-spread.txt");

      // a longer lease: three worker processes starting on a small machine must not starve each other's heartbeats
      const a = startWorker(trace, 3000);
      const b = startWorker(trace, 3000);
      const victim = await waitFor("a checkpoint of a run that worker A holds", () =>
        rows().find((j) => {
          const done = (j.checkpoint as { layers?: unknown[] } | null)?.layers?.length ?? 0;
          return j.status === "running" && j.leaseOwner?.includes(`:${a.pid}:`) && done >= 1 && done < pairs;
        }),
      );
      a.kill("SIGKILL");
      await waitFor("worker A to die", () => a.signalCode === "SIGKILL");
      const c = startWorker(trace, 3000);
      const all = await waitFor(
        "every run to finish",
        () => {
          const r = rows();
          return r.every((j) => j.status !== "queued" && j.status !== "running") ? r : null;
        },
        90_000,
      );
      b.kill("SIGTERM");
      c.kill("SIGTERM");
      expect(all.map((j) => j.status)).toStrictEqual(classes.map(() => "succeeded"));
      const victimEvents = env.db.select().from(jobEvents).where(eq(jobEvents.jobId, victim.id)).all();
      expect(
        all.find((j) => j.id === victim.id)!.attempts,
        JSON.stringify(victimEvents.filter((e) => e.type !== "progress")),
      ).toBe(2);

      // nothing was computed twice but the layer pair the killed worker was in (at most one)
      const traced = readFileSync(trace, "utf8").trim().split("\n");
      expect(traced.length).toBeGreaterThanOrEqual(classes.length * pairs);
      expect(traced.length).toBeLessThanOrEqual(classes.length * pairs + 1);
      expect(new Set(traced.map((l) => l.split(" ")[0])).size).toBeGreaterThanOrEqual(2);
      // one succeeded event per job, one circuit per run, each what an undisturbed run gives
      const succeeded = env.db.select().from(jobEvents).where(inArray(jobEvents.jobId, jobIds)).all();
      expect(succeeded.filter((e) => e.type === "status" && e.data.status === "succeeded")).toHaveLength(
        classes.length,
      );
      for (const r of started) {
        const stored = env.db.select().from(circuits).where(eq(circuits.runId, r.id)).all();
        expect(stored).toHaveLength(1);
        const undisturbed = await fakeEngine()(
          { manifestPath: "", images: "", className: r.className, layers, params: { preset: "default", ...params } },
          {},
        );
        expect(await env.as.viewer.circuits.export({ id: stored[0]!.id })).toStrictEqual(undisturbed);
      }

      // the run page's stream of the taken-over run: every event, in order; resumed after an id, exactly the rest
      const run = started.find((r) => r.jobId === victim.id)!;
      const seen: { id: string; type: string; status?: unknown }[] = [];
      for await (const e of await env.as.viewer.runs.progress({ id: run.id })) {
        // a server-side caller yields tracked events as [id, data] (SSE clients get { id, data })
        const [id, data] = e as unknown as [string, { type: string; data: Record<string, unknown> }];
        seen.push({ id, type: data.type, status: data.data.status });
      }
      const statuses = seen.filter((e) => e.type === "status").map((e) => e.status);
      expect(statuses).toStrictEqual(["queued", "running", "running", "succeeded"]);
      expect(seen.filter((e) => e.type === "checkpoint")).toHaveLength(pairs);
      const ids = seen.map((e) => Number(e.id));
      expect([...ids].sort((x, y) => x - y)).toStrictEqual(ids);
      const mid = Math.floor(seen.length / 2);
      const rest: string[] = [];
      for await (const e of await env.as.viewer.runs.progress({ id: run.id, lastEventId: seen[mid]!.id }))
        rest.push((e as unknown as [string])[0]);
      expect(rest).toStrictEqual(seen.slice(mid + 1).map((e) => e.id));
    });
  });
});
