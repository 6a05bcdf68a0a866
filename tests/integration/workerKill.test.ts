/**
 * SIGKILL the worker process mid-run: a new worker takes the job over once the lease expires,
 * resumes after the last finished layer, and stores the same circuit an uninterrupted run gives —
 * once (with the fake engine; the real-engine version comes with the end-to-end tests).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { circuits, jobs } from "~/db/schema";
import { fakeEngine } from "../helpers/fakeEngine";
import { FIXTURE_IMAGES, modelForm } from "../helpers/fixtures";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

let env: TestEnv;
const children: ChildProcess[] = [];
beforeAll(async () => {
  env = await makeEnv();
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  env.close();
});

function startWorker(trace: string): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join("tests", "helpers", "fakeWorkerMain.ts")], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      NEURFLOW_DB: env.dbPath,
      NEURFLOW_LEASE_MS: "1500",
      FAKE_LAYER_DELAY_MS: "500",
      FAKE_TRACE_FILE: trace,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", () => {});
  child.stderr!.on("data", (d) => process.stderr.write(d));
  children.push(child);
  return child;
}

async function waitFor<T>(what: string, f: () => T | undefined | null | false, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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
});
