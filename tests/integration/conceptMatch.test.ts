/**
 * The concept match through the router, the job queue and the worker with the real engine, on two
 * toy-world circuits of one model (bee, ladybug): computed once per job and stored for the pair,
 * equal to the engine's own `conceptMatch` on the same data; a live job is reused; bad pairs are
 * refused with a clear message and queue nothing; viewers read but cannot start; deleting a
 * circuit deletes its matches. And the class-dependence evaluation kind: the router's checks, the
 * worker's result equal to the engine's on the same images, its false positives kept as pictures, the
 * newest report in the JSON export.
 */
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { conceptMatches, images as imageRows, jobs } from "~/db/schema";
import { CONCEPT_MATCH_PARAM_DEFAULTS } from "~/lib/circuits/conceptMatchParams";
import { EVALUATION_DEFAULTS } from "~/lib/evaluations/params";
import { exportCircuit, importCircuit } from "~/server/circuits/store";
import { imageSetDir } from "~/server/evaluations/store";
import { conceptMatchJobHandler } from "~/server/jobs/handlers/conceptMatchJob";
import { evaluationJobHandler } from "~/server/jobs/handlers/evaluationJob";
import type { ClassDependenceResult } from "~/server/neurflow/light";
import { Worker } from "~/server/jobs/worker";
import { FIXTURE, FIXTURE_IMAGES } from "../helpers/fixtures";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset, toyCircuit, type Seeded } from "../helpers/viewerSeed";

let env: TestEnv;
let bee: Seeded;
let ladybug: Seeded;
let imported: number;
let worker: Worker;

beforeAll(async () => {
  env = await makeEnv();
  const base = await seedModelAndDataset(env.as.admin);
  bee = seedCircuit(env.db, base, await toyCircuit("bee"));
  ladybug = seedCircuit(env.db, base, await toyCircuit("ladybug"));
  // a document without a registered model (imported): it cannot be run
  imported = importCircuit(env.db, exportCircuit(env.db, bee.circuitId)!, {
    runId: null,
    modelId: null,
    storedBy: null,
  });
  worker = new Worker({
    queue: env.queue,
    handlers: { conceptMatch: conceptMatchJobHandler(env.db) },
    leaseMs: 120_000,
  });
}, 120_000);
afterAll(() => env.close());

const count = (t: typeof jobs | typeof conceptMatches) => env.db.select().from(t).all().length;

describe("concept match on the platform", () => {
  it("has the engine's defaults", async () => {
    const { CONCEPT_MATCH_DEFAULTS, CLASS_DEPENDENCE_DEFAULTS } = await import("~/server/neurflow");
    expect(CONCEPT_MATCH_PARAM_DEFAULTS).toEqual(CONCEPT_MATCH_DEFAULTS);
    expect(EVALUATION_DEFAULTS.classDependence.draws).toBe(CLASS_DEPENDENCE_DEFAULTS.draws);
    expect(EVALUATION_DEFAULTS.classDependence.seed).toBe(CLASS_DEPENDENCE_DEFAULTS.seed);
    expect(EVALUATION_DEFAULTS.classDependence.falsePositives).toBe(CLASS_DEPENDENCE_DEFAULTS.falsePositives);
  });

  it("refuses bad pairs with a clear message and queues nothing", async () => {
    const before = count(jobs);
    await expect(env.as.annotator.circuitCompare.startConcept({ a: bee.circuitId, b: bee.circuitId })).rejects.toThrow(
      /another circuit/,
    );
    await expect(env.as.annotator.circuitCompare.startConcept({ a: bee.circuitId, b: 99999 })).rejects.toThrow(
      /circuit 99999 does not exist/,
    );
    await expect(env.as.annotator.circuitCompare.startConcept({ a: bee.circuitId, b: imported })).rejects.toThrow(
      /no registered model/,
    );
    await expect(
      env.as.annotator.circuitCompare.startConcept({
        a: bee.circuitId,
        b: ladybug.circuitId,
        params: { patchesPerGroup: 500 },
      }),
    ).rejects.toThrow();
    await expect(env.as.viewer.circuitCompare.startConcept({ a: bee.circuitId, b: ladybug.circuitId })).rejects.toThrow(
      /FORBIDDEN|annotator/i,
    );
    expect(count(jobs)).toBe(before);
    const q = await env.as.viewer.circuitCompare.concept({ a: bee.circuitId, b: imported });
    expect(q.problem).toMatch(/no registered model/);
  });

  it("runs in the worker, stores one result per job, equal to the engine's", async () => {
    const pair = { a: bee.circuitId, b: ladybug.circuitId };
    const first = await env.as.annotator.circuitCompare.startConcept(pair);
    const again = await env.as.annotator.circuitCompare.startConcept(pair);
    expect(again).toEqual({ jobId: first.jobId, reused: true });
    expect((await env.as.viewer.circuitCompare.concept(pair)).job?.status).toBe("queued");
    const outcome = await worker.runOnce();
    expect(outcome?.status).toBe("succeeded");
    const read = await env.as.viewer.circuitCompare.concept(pair);
    expect(read.job?.status).toBe("succeeded");
    const stored = read.stored!;
    expect(stored.params).toEqual({ patchesPerGroup: 8, minStrength: 0.5 });
    // the engine on the same data gives the same numbers
    const { conceptMatch, loadModel } = await import("~/server/neurflow");
    const model = await loadModel(join(FIXTURE, "manifest.json"));
    try {
      const side = (s: Seeded) => {
        const doc = exportCircuit(env.db, s.circuitId)!;
        return { circuit: doc, model, images: doc.images.map((n) => join(FIXTURE_IMAGES, doc.class.name, n)) };
      };
      const direct = await conceptMatch(side(bee), side(ladybug));
      expect({ ...stored.result, seconds: 0 }).toEqual({ ...direct, seconds: 0 });
    } finally {
      model.dispose();
    }
    expect(count(conceptMatches)).toBe(1);
    // the other way round reads the same match, sides swapped
    const reversed = (await env.as.viewer.circuitCompare.concept({ a: ladybug.circuitId, b: bee.circuitId })).stored!;
    expect(reversed.id).toBe(stored.id);
    expect(reversed.result.a).toEqual(stored.result.b);
    expect(reversed.result.b).toEqual(stored.result.a);
    stored.result.strength.forEach((row, i) => row.forEach((s, j) => expect(reversed.result.strength[j]![i]).toBe(s)));
    expect(reversed.result.probe.filter((p) => p.side === "a").length).toBe(
      stored.result.probe.filter((p) => p.side === "b").length,
    );
  }, 120_000);

  it("checks a class-dependence request against the circuit", async () => {
    const before = count(jobs);
    await expect(
      env.as.annotator.evaluations.start({
        circuitId: bee.circuitId,
        request: { kind: "classDependence", params: { draws: 5 } },
      }),
    ).rejects.toThrow(/at least 20 random sets/);
    await expect(
      env.as.annotator.evaluations.start({
        circuitId: bee.circuitId,
        request: { kind: "classDependence", params: { datasetId: 9999 } },
      }),
    ).rejects.toThrow(/no dataset 9999/);
    await expect(
      env.as.annotator.evaluations.start({ circuitId: imported, request: { kind: "classDependence", params: {} } }),
    ).rejects.toThrow(/no registered model/);
    expect(count(jobs)).toBe(before);
    const ok = await env.as.annotator.evaluations.start({
      circuitId: bee.circuitId,
      request: { kind: "classDependence", params: { draws: 20, perClass: 1 } },
    });
    const row = env.db.select().from(jobs).where(eq(jobs.id, ok.jobId)).get()!;
    expect(row.payload).toMatchObject({ kind: "classDependence", params: { draws: 20, perClass: 1, seed: 0 } });
    // the worker computes it: one image of each other class of the circuit's own dataset
    const evaluationWorker = new Worker({
      queue: env.queue,
      handlers: { evaluation: evaluationJobHandler(env.db, env.storageRoot) },
      leaseMs: 120_000,
    });
    expect((await evaluationWorker.runOnce())?.status).toBe("succeeded");
    const stored = (await env.as.viewer.evaluations.list({ circuitId: bee.circuitId, kind: "classDependence" }))
      .results[0]!;
    const report = stored.result as ClassDependenceResult & {
      dataset: { id: number };
      falsePositiveImages: { set: string } | null;
    };
    expect(stored.params).toMatchObject({ draws: 20, perClass: 1, datasetId: bee.datasetId });
    expect(report.dataset.id).toBe(bee.datasetId);
    // equal to the engine on the same images (the other classes' first image each, in dataset order)
    const { classDependence, loadEvaluationData, loadClassImages, tf } = await import("~/server/neurflow");
    const doc = exportCircuit(env.db, bee.circuitId)!;
    const data = await loadEvaluationData(doc, join(FIXTURE, "manifest.json"), join(FIXTURE_IMAGES, "bee"));
    try {
      const others = readdirSync(FIXTURE_IMAGES)
        .filter((c) => c !== "bee" && data.model.manifest.classes.includes(c))
        .sort((x, y) => data.model.manifest.classes.indexOf(x) - data.model.manifest.classes.indexOf(y));
      const names = report.falsePositives.map((f) => f.name!);
      expect(new Set(names.map((n) => n.split("/")[0]))).toEqual(new Set(others));
      // every other image appears once in the report's list (false positives, then near misses)
      expect(new Set(report.falsePositives.map((f) => f.image)).size).toBe(report.falsePositives.length);
      const otherFiles = env.db
        .select()
        .from(imageRows)
        .where(eq(imageRows.datasetId, bee.datasetId))
        .orderBy(imageRows.id)
        .all()
        .filter((r) => r.className !== "bee");
      // one of each other class, in dataset order (what the worker takes with perClass 1)
      const firstOfEach = otherFiles.filter((r, i) => otherFiles.findIndex((x) => x.className === r.className) === i);
      const S = data.model.manifest.input.size;
      const loaded = await loadClassImages(
        firstOfEach.map((r) => join(FIXTURE_IMAGES, r.className, r.fileName)),
        S,
      );
      const otherImages = tf.tidy(() =>
        data.model.preprocess(tf.tensor4d(loaded.pixels, [firstOfEach.length, S, S, 3])),
      );
      const direct = await classDependence(
        doc,
        data.model,
        {
          classImages: data.images,
          otherImages,
          otherNames: firstOfEach.map((r) => `${r.className}/${r.fileName}`),
          otherClasses: firstOfEach.map((r) => data.model.manifest.classes.indexOf(r.className)),
        },
        { draws: 20, seed: 0, falsePositives: 16 },
      );
      otherImages.dispose();
      const { dataset: _d, falsePositiveImages, ...rest } = report;
      expect({ ...rest, seconds: 0 }).toEqual({ ...direct, seconds: 0 });
      // the false positives are kept as pictures, one per entry
      expect(falsePositiveImages).not.toBeNull();
      expect(readdirSync(imageSetDir(env.storageRoot, bee.circuitId, falsePositiveImages!.set)).length).toBe(
        report.falsePositives.length,
      );
    } finally {
      data.dispose();
    }
    // the export carries the newest report
    const exported = (await env.as.viewer.circuits.export({ id: bee.circuitId })) as { classDependence?: unknown };
    expect(exported.classDependence).toMatchObject({ evaluationId: stored.id, report: { kind: "classDependence" } });
  }, 180_000);

  it("deletes the matches with either circuit", async () => {
    expect(count(conceptMatches)).toBe(1);
    await env.as.admin.circuits.delete({ id: ladybug.circuitId });
    expect(count(conceptMatches)).toBe(0);
  });
});
