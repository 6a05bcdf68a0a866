/**
 * The small items of the circuit pages: optimality's default τ values follow the circuit's τ (the
 * router resolves them; the form shows the same), and a run's per-layer seconds are the circuit's
 * own per-layer engine time, so the run page and the circuit summary show the same numbers.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs } from "~/db/schema";
import { importanceMeaning, layerEntryName, layerSeconds } from "~/lib/circuits/describe";
import { estimateUnits, optimalityTaus, SLIDER_THRESHOLDS } from "~/lib/evaluations/params";
import { loadGraph } from "~/server/circuits/graph";
import { faithfulnessSubsets, subsetGraphOf } from "~/server/evaluations/faithfulnessSubsets";
import { circuitJobHandler } from "~/server/jobs/handlers/circuitJob";
import { Worker } from "~/server/jobs/worker";
import type { CircuitLayer } from "~/server/neurflow/light";
import { fakeEngine } from "../helpers/fakeEngine";
import { FIXTURE_IMAGES, modelForm } from "../helpers/fixtures";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset, toyCircuit } from "../helpers/viewerSeed";

let env: TestEnv;
beforeAll(async () => {
  env = await makeEnv();
});
afterAll(() => env.close());

describe("optimality defaults follow the circuit's τ", () => {
  it("the rule: the circuit's τ and twice it, within the cap", () => {
    expect(optimalityTaus(3)).toEqual([3, 6]);
    expect(optimalityTaus(16)).toEqual([16, 32]);
    expect(optimalityTaus(2048)).toEqual([2048]);
    // fewer knockouts than the paper's three τ on the demo circuit (3 pairs × 5 targets × 101 sets each)
    const facts = { layers: 3, tau: 3 };
    expect(estimateUnits("optimality", { taus: optimalityTaus(3) }, facts)).toBe(3 * 5 * 2 * 101);
  });

  it("a request without τ values is queued with the circuit's (and the curve's subsets of its document equal the stored graph's)", async () => {
    const base = await seedModelAndDataset(env.as.admin);
    const circuit = await toyCircuit("bee", 3);
    const { circuitId } = seedCircuit(env.db, base, circuit);
    const { jobId } = await env.as.annotator.evaluations.start({
      circuitId,
      request: { kind: "optimality", params: { targets: 1, randomSets: 2, k: 12 } },
    });
    const job = env.db.select().from(jobs).where(eq(jobs.id, jobId)).get()!;
    expect((job.payload as { params: { taus: number[] } }).params.taus).toEqual([3, 6]);
    // explicit values are kept
    const { jobId: j2 } = await env.as.annotator.evaluations.start({
      circuitId,
      request: { kind: "optimality", params: { taus: [2], targets: 1, randomSets: 2, k: 12 } },
    });
    const job2 = env.db.select().from(jobs).where(eq(jobs.id, j2)).get()!;
    expect((job2.payload as { params: { taus: number[] } }).params.taus).toEqual([2]);
    env.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.kind, "evaluation")).run();

    // the faithfulness subsets of a document without a database equal those of the stored graph
    const fromDb = faithfulnessSubsets(loadGraph(env.db, circuitId)!, circuit, SLIDER_THRESHOLDS);
    const fromDoc = faithfulnessSubsets(subsetGraphOf(circuit), circuit, SLIDER_THRESHOLDS);
    expect(fromDoc.configs.map((c) => c.keep)).toEqual(fromDb.configs.map((c) => c.keep));
    expect(fromDoc.series).toEqual(fromDb.series);
    expect(fromDb.series.global).toHaveLength(101);
  });
});

describe("the summary page's words", () => {
  it("names layer entries and the importance aggregation", () => {
    expect(layerEntryName(0, "fc", "layer4.1")).toBe("the class logit's concept groups (core neurons in layer4.1)");
    expect(layerEntryName(2, "layer4.0", "layer3.1")).toBe("neuron groups of layer4.0 (core neurons in layer3.1)");
    expect(importanceMeaning("absMean")).toMatch(/^\|mean IG\|/);
    expect(importanceMeaning("meanAbs")).toMatch(/^mean \|IG\|/);
    expect(importanceMeaning("other")).toBe("other");
  });
});

describe("per-layer seconds: the run page and the circuit summary agree", () => {
  it("the run records each layer pair's engine time, the number the circuit stores", async () => {
    const modelId = (await env.as.annotator.models.upload(modelForm({ name: "timings" }))).id;
    const datasetId = (await env.as.admin.datasets.registerFolder({ name: "timings", path: FIXTURE_IMAGES })).id;
    env.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.kind, "validateModel")).run();
    const layers = ["fc", "layer4.1", "layer4.0", "layer3.1"];
    const run = await env.as.annotator.runs.start({
      modelId,
      datasetId,
      className: "bee",
      layers,
      tau: 3,
      k: 8,
      igSteps: 8,
    } as never);
    // an engine that reports per-layer stage timings (as the real one does) and spends time loading first,
    // so wall-clock time between checkpoints differs from the layers' own time
    const stages = (li: number) => ({ maps: 0.5, ig: 1 + li, clustering: 0.25, neuronGroups: 0.05, total: 1.8 + li });
    const withTimings = (ls: CircuitLayer[]) => ls.map((l, li) => ({ ...l, timings: stages(li) }));
    const inner = fakeEngine();
    const engine: typeof inner = async (req, o) => {
      await new Promise((r) => setTimeout(r, 300));
      const c = await inner(req, {
        ...o,
        onCheckpoint: (cp) => o.onCheckpoint?.({ ...cp, layers: withTimings(cp.layers) }),
      });
      return { ...c, layers: withTimings(c.layers) };
    };
    const worker = new Worker({
      queue: env.queue,
      progressIntervalMs: 0,
      handlers: { circuit: circuitJobHandler(env.db, async () => engine) },
    });
    expect(await worker.runOnce()).toMatchObject({ status: "succeeded" });
    const stored = await env.as.viewer.runs.get({ id: run.id });
    expect(stored.status).toBe("succeeded");
    const summary = await env.as.viewer.circuits.get({ id: stored.circuitId! });
    const runSeconds = stored.layerTimings.map((t) => t.seconds);
    const summarySeconds = summary.layers.map((l) => layerSeconds(l.timings));
    expect(runSeconds).toEqual(summarySeconds);
    expect(runSeconds).toEqual([1.8, 2.8, 3.8]);
    expect(stored.layerTimings.map((t) => t.layer)).toEqual(["fc←layer4.1", "layer4.1←layer4.0", "layer4.0←layer3.1"]);
  });

  it("seconds of a layer: its total, else the sum of its stages, else none", () => {
    expect(layerSeconds({ maps: 1, ig: 2, total: 4 })).toBe(4);
    expect(layerSeconds({ maps: 1, ig: 2 })).toBe(3);
    expect(layerSeconds(null)).toBeNull();
    expect(layerSeconds({})).toBeNull();
  });
});
