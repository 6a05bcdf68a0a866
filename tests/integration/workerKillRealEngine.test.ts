/**
 * SIGKILL the real worker process (`server/jobs/workerMain.ts`, the real engine) after the first
 * checkpoint: once the lease expires a new worker process takes the job over, resumes after the
 * finished layer pair, and stores — once — the same circuit an uninterrupted run of the same
 * request stores (compared as exported `neurflow-circuit/1` JSON, without `createdAt` and timings).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { circuits, jobs, models } from "~/db/schema";
import type { Circuit } from "~/server/neurflow/light";
import { FIXTURE_IMAGES, modelForm } from "../helpers/fixtures";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

// five layers: after the first (fastest) pair three more leave seconds to kill the worker in
const LAYERS = ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0"];
const LEASE_MS = 3000;

let env: TestEnv;
const children: ChildProcess[] = [];
let output = "";
beforeAll(async () => {
  env = await makeEnv();
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  env?.close();
});

function startWorker(name: string): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join("server", "jobs", "workerMain.ts")], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      NEURFLOW_DB: env.dbPath,
      NEURFLOW_DATA: env.storageRoot,
      NEURFLOW_LEASE_MS: String(LEASE_MS),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const on = (d: Buffer) => (output = (output + d.toString().replace(/^(?=.)/gm, `[${name}] `)).slice(-50_000));
  child.stdout!.on("data", on);
  child.stderr!.on("data", on);
  children.push(child);
  return child;
}

async function waitFor<T>(what: string, f: () => T | undefined | null | false, ms = 180_000, pollMs = 20): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}\n--- worker output ---\n${output.slice(-5000)}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const job = (id: number) => env.db.select().from(jobs).where(eq(jobs.id, id)).get()!;
const settled = (id: number) => {
  const j = job(id);
  return j.status !== "running" && j.status !== "queued" ? j : null;
};

/** The document without what differs between two computations of it: when, and how long. */
function comparable(c: Circuit): unknown {
  const { createdAt, timings, ...rest } = c as Circuit & { createdAt?: unknown; timings?: unknown };
  void createdAt;
  void timings;
  return { ...rest, layers: c.layers.map(({ timings: _t, ...l }) => l) };
}

describe("real worker process killed mid-run", () => {
  it("resumes after the first checkpoint in a new process and stores the circuit of an uninterrupted run, once", {
    timeout: 600_000,
  }, async () => {
    const modelId = (await env.as.annotator.models.upload(modelForm({ name: "toyworld-a" }))).id;
    const datasetId = (await env.as.admin.datasets.registerFolder({ name: "fixture", path: FIXTURE_IMAGES, modelId }))
      .id;
    const request = { modelId, datasetId, className: "bee", layers: LAYERS, tau: 3, k: 12, igSteps: 4 };
    const run1 = await env.as.annotator.runs.start(request);

    // worker A: the model's load check, then the run until its first checkpoint
    const a = startWorker("A");
    const atKill = await waitFor("the first checkpoint", () => {
      const j = job(run1.jobId);
      return ((j.checkpoint as { layers?: unknown[] } | null)?.layers?.length ?? 0) >= 1 ? j : null;
    });
    a.kill("SIGKILL");
    await waitFor("worker A to die", () => a.signalCode === "SIGKILL");
    expect(env.db.select().from(models).where(eq(models.id, modelId)).get()!.status).toBe("ready");
    const checkpoint = job(run1.jobId).checkpoint as { layers: Circuit["layers"] };
    expect(atKill.status).toBe("running");
    expect(checkpoint.layers.length).toBeLessThan(LAYERS.length - 1); // killed mid-run, not after the last pair
    expect(job(run1.jobId).status).toBe("running"); // nobody has settled it

    // worker B takes the job over once A's lease expires and finishes it
    const b = startWorker("B");
    const finished = await waitFor("run 1 to finish", () => settled(run1.jobId), 300_000, 100);
    expect(finished, output.slice(-3000)).toMatchObject({ status: "succeeded", attempts: 2 });
    const events = await env.queue.events(run1.jobId, 0);
    expect(
      events.filter((e) => e.type === "status" && e.data.status === "running").map((e) => e.data.resumed),
    ).toStrictEqual([false, true]);
    expect(
      events.some(
        (e) =>
          e.type === "log" &&
          String(e.data.message).includes(`resuming after ${checkpoint.layers.length} finished layer pair(s)`),
      ),
    ).toBe(true);
    // each layer pair checkpointed once: B went on after A's checkpoint instead of starting again
    expect(events.filter((e) => e.type === "checkpoint").map((e) => e.data.layers)).toStrictEqual(
      [...Array(LAYERS.length - 1).keys()].map((i) => i + 1),
    );

    // an uninterrupted run of the same request (worker B)
    const run2 = await env.as.annotator.runs.start(request);
    expect(await waitFor("run 2 to finish", () => settled(run2.jobId), 300_000, 100)).toMatchObject({
      status: "succeeded",
      attempts: 1,
    });
    b.kill("SIGTERM");

    const r1 = await env.as.viewer.runs.get({ id: run1.id });
    const r2 = await env.as.viewer.runs.get({ id: run2.id });
    expect(r1.status).toBe("succeeded");
    expect(r1.layerTimings.map((t) => t.layer)).toStrictEqual(LAYERS.slice(1).map((l, i) => `${LAYERS[i]}←${l}`));
    const resumed = await env.as.viewer.circuits.export({ id: r1.circuitId! });
    const uninterrupted = await env.as.viewer.circuits.export({ id: r2.circuitId! });
    expect(resumed.layers).toHaveLength(LAYERS.length - 1);
    expect(comparable(resumed)).toStrictEqual(comparable(uninterrupted));
    // stored once
    expect(env.db.select().from(circuits).where(eq(circuits.runId, run1.id)).all()).toHaveLength(1);
    expect(env.db.select().from(circuits).all()).toHaveLength(2);
  });
});
