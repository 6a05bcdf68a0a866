/**
 * Evaluations through the router, the job queue and the worker with the real engine on the
 * toy-world circuit (bee, τ 3, four images): each kind with tiny settings is stored with the
 * circuit and equals what the engine's functions compute directly; bad parameters are refused
 * with a clear message and queue or store nothing; cancel; share-link and role rules; deleting the
 * circuit deletes its results and images.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluations, jobs } from "~/db/schema";
import { loadGraph } from "~/server/circuits/graph";
import { exportCircuit } from "~/server/circuits/store";
import { THRESHOLD_MODES, type ThresholdMode, visibleGroupIds } from "~/lib/circuits/visibility";
import { faithfulnessAt, type FaithfulnessResult, isFaithfulnessCurve } from "~/lib/evaluations/faithfulness";
import { EVALUATION_DEFAULTS } from "~/lib/evaluations/params";
import { evaluationsDir, imageSetDir } from "~/server/evaluations/store";
import { evaluationJobHandler } from "~/server/jobs/handlers/evaluationJob";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import { Worker } from "~/server/jobs/worker";
import type { Circuit } from "~/server/neurflow/light";
import { createShareLink } from "~/server/share/links";
import { SHARE_HEADER } from "~/lib/circuits/viewTypes";
import { createContext } from "~/server/api/context";
import { createCaller } from "~/server/api/root";
import { FIXTURE, FIXTURE_IMAGES } from "../helpers/fixtures";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset, toyCircuit, type Seeded } from "../helpers/viewerSeed";

let env: TestEnv;
let bee: Seeded;
let doc: Circuit;
let worker: Worker;
const MANIFEST = join(FIXTURE, "manifest.json");

type Engine = {
  data: Awaited<ReturnType<typeof import("~/server/neurflow").loadEvaluationData>>;
};
let engine: Engine;

beforeAll(async () => {
  env = await makeEnv();
  const base = await seedModelAndDataset(env.as.admin);
  bee = seedCircuit(env.db, base, await toyCircuit("bee"));
  doc = exportCircuit(env.db, bee.circuitId)!;
  worker = new Worker({
    queue: env.queue,
    handlers: { evaluation: evaluationJobHandler(env.db, env.storageRoot) },
    leaseMs: 120_000,
  });
  const { initBackend, loadEvaluationData } = await import("~/server/neurflow");
  await initBackend();
  engine = { data: await loadEvaluationData(doc, MANIFEST, join(FIXTURE_IMAGES, "bee")) };
});
afterAll(() => {
  engine?.data.dispose();
  env.close();
});

/** Runs queued evaluation jobs until none is left; returns the outcome of the last. */
async function drain() {
  let last = null;
  for (;;) {
    const o = await worker.runOnce();
    if (!o) return last;
    last = o;
  }
}

function counts() {
  return {
    jobs: env.db.select().from(jobs).where(eq(jobs.kind, "evaluation")).all().length,
    evaluations: env.db.select().from(evaluations).all().length,
  };
}

function withoutSeconds(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === "seconds" ? undefined : v)));
}

async function runKind(request: Parameters<TestEnv["as"]["annotator"]["evaluations"]["start"]>[0]["request"]) {
  const { jobId } = await env.as.annotator.evaluations.start({ circuitId: bee.circuitId, request });
  const outcome = await drain();
  expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: "succeeded" });
  const row = env.db.select().from(evaluations).where(eq(evaluations.jobId, jobId)).get();
  expect(row).toBeDefined();
  const stored = await env.as.viewer.evaluations.get({ id: row!.id });
  expect(stored.kind).toBe(request.kind);
  expect(stored.createdBy).toBe("annotator");
  return stored;
}

describe("defaults", () => {
  it("are the engine's", async () => {
    const { OPTIMALITY_DEFAULTS, FIDELITY_OF_NEURONS_DEFAULTS, FIDELITY_OF_WEIGHTS_DEFAULTS } = await import(
      "~/server/neurflow"
    );
    expect(EVALUATION_DEFAULTS.optimality).toEqual(OPTIMALITY_DEFAULTS);
    expect(EVALUATION_DEFAULTS.fidelityOfNeurons).toEqual(FIDELITY_OF_NEURONS_DEFAULTS);
    expect(EVALUATION_DEFAULTS.fidelityOfWeights).toEqual(FIDELITY_OF_WEIGHTS_DEFAULTS);
  });
});

describe("each kind through the worker equals the engine", () => {
  it("optimality", async () => {
    const params = { pairs: [1], taus: [2], targets: 1, randomSets: 3, k: 12, seed: 4 };
    const stored = await runKind({ kind: "optimality", params });
    const { optimality } = await import("~/server/neurflow");
    const direct = await optimality(doc, engine.data.model, engine.data.images, engine.data.patches, params);
    expect(withoutSeconds(stored.result)).toEqual(withoutSeconds(direct));
    expect(stored.params).toEqual(direct.params);
    expect((stored.result as typeof direct).cells).toHaveLength(1);
  });

  it("fidelity of neurons (τ ≤ the circuit's, default τ resolved against it)", async () => {
    const params = {
      taus: [2, 3],
      modes: ["mask" as const],
      scopes: ["single" as const, "multi" as const],
      draws: 2,
      seed: 1,
    };
    const stored = await runKind({ kind: "fidelityOfNeurons", params });
    const { fidelityOfNeurons } = await import("~/server/neurflow");
    const direct = await fidelityOfNeurons(doc, engine.data.model, engine.data.images, engine.data.classIndex, params);
    expect(withoutSeconds(stored.result)).toEqual(withoutSeconds(direct));
    expect((stored.result as typeof direct).curves).toHaveLength(4);
    // without τ: the engine's default τ values that the circuit (τ 3) has, else its own τ
    const { jobId } = await env.as.annotator.evaluations.start({
      circuitId: bee.circuitId,
      request: { kind: "fidelityOfNeurons", params: {} },
    });
    expect((await env.queue.get(jobId))!.payload).toMatchObject({
      params: { taus: [3], modes: ["mask", "retain"], scopes: ["single", "multi"], draws: 5 },
    });
    expect(await env.as.annotator.evaluations.cancel({ jobId })).toEqual({ status: "canceled" });
  });

  it("fidelity of weights", async () => {
    const params = { pairs: [1], targets: 1, setSizes: [1, 2], randomSets: 4, k: 12, seed: 2 };
    const stored = await runKind({ kind: "fidelityOfWeights", params });
    const { fidelityOfWeights } = await import("~/server/neurflow");
    const direct = await fidelityOfWeights(doc, engine.data.model, engine.data.images, engine.data.patches, params);
    expect(withoutSeconds(stored.result)).toEqual(withoutSeconds(direct));
  });

  it("group masking of one group and of a layer's core neurons", async () => {
    const { maskGroups } = await import("~/server/neurflow");
    const group = doc.layers[1]!.neuronGroups[0]!.id;
    const params = { layerIndex: 1, groups: [group], draws: 2, seed: 3, topPatches: 3 };
    const stored = await runKind({ kind: "groupMasking", params });
    const direct = await maskGroups(doc, engine.data.model, engine.data.images, params, {
      images: engine.data.images,
      patches: engine.data.patches,
    });
    expect(withoutSeconds(stored.result)).toMatchObject(withoutSeconds(direct) as object);
    expect((stored.result as typeof direct).topDropPatches).toHaveLength(3);
    const core = await runKind({
      kind: "groupMasking",
      params: { layerIndex: 2, groups: "core", draws: 1, topPatches: 0 },
    });
    const directCore = await maskGroups(doc, engine.data.model, engine.data.images, {
      layerIndex: 2,
      groups: "core",
      draws: 1,
      seed: 0,
      topPatches: 0,
    });
    expect(withoutSeconds(core.result)).toMatchObject(withoutSeconds(directCore) as object);
  });

  it("faithfulness: the curve of logit retained with only the visible groups' neurons, both threshold modes", async () => {
    const thresholds = [0, 0.3, 0.6, 1];
    const stored = await runKind({ kind: "faithfulness", params: { thresholds, draws: 4 } });
    const r = stored.result as FaithfulnessResult;
    expect(isFaithfulnessCurve(r)).toBe(true);
    expect(r.layers).toEqual([...doc.layers.slice(1).map((l) => l.upper), doc.layers.at(-1)!.lower]);
    const graph = loadGraph(env.db, bee.circuitId)!;
    // independent of the job: the visible groups' members, read from the document by group id
    const rowToDoc = new Map(graph.groups.map((g) => [g.id, { layer: g.layer, groupId: g.groupId }]));
    const subsetAt = (t: number, mode: ThresholdMode) => {
      const visible = visibleGroupIds(graph, t, mode).map((id) => rowToDoc.get(id)!);
      const kept = doc.layers
        .slice(1)
        .map((l, j) =>
          [
            ...new Set(
              l.neuronGroups
                .filter((g) => visible.some((v) => v.layer === j + 1 && v.groupId === g.id))
                .flatMap((g) => g.members.map((m) => m.neuron)),
            ),
          ].sort((a, b) => a - b),
        );
      // the lowest layer: the core neurons of the kept targets of the last layer pair
      const lastTargets = new Set(kept.at(-1));
      const lowest = doc.layers
        .at(-1)!
        .targets.filter((x) => lastTargets.has(x.neuron))
        .flatMap((x) => x.coreNeurons);
      return [...kept, [...new Set(lowest)].sort((a, b) => a - b)];
    };
    const { faithfulnessCurve } = await import("~/server/neurflow");
    for (const mode of THRESHOLD_MODES) {
      expect(r.series[mode].map((p) => p.threshold)).toEqual(thresholds);
      const subsets = thresholds.map((t) => subsetAt(t, mode));
      const direct = await faithfulnessCurve(doc, engine.data.model, engine.data.images, {
        subsets,
        draws: 4,
        seed: 0,
      });
      expect(r.full).toEqual(direct.full);
      expect(r.empty).toEqual(direct.empty);
      let previous = Number.POSITIVE_INFINITY;
      for (const [i, p] of r.series[mode].entries()) {
        const c = r.configs[p.config]!;
        expect(c.groups).toEqual(visibleGroupIds(graph, p.threshold, mode));
        expect(c.neurons).toEqual(subsets[i]!.map((k) => k.length));
        expect(c.logitRetained).toBe(direct.points[i]!.logitRetained);
        expect(c.accuracy).toBe(direct.points[i]!.accuracy);
        expect(c.random).toEqual(direct.points[i]!.random);
        // the kept neurons shrink as the threshold rises (visible sets are nested)
        const kept = c.neurons.reduce((a, b) => a + b, 0);
        expect(kept).toBeLessThanOrEqual(previous);
        previous = kept;
        // the viewer's lookup finds this configuration at this threshold and mode
        expect(faithfulnessAt(r, graph, p.threshold, mode)).toEqual({ config: c, exact: true });
      }
    }
    // threshold 0 keeps every group: all the circuit's targets of those layers
    expect(r.configs[r.series.global[0]!.config]!.neurons).toEqual([
      ...doc.layers.slice(1).map((l) => new Set(l.neuronGroups.flatMap((g) => g.members.map((m) => m.neuron))).size),
      new Set(doc.layers.at(-1)!.targets.flatMap((t) => t.coreNeurons)).size,
    ]);
    // thresholds with the same visible set share one configuration, across modes too
    expect(r.series.perLayer[0]!.config).toBe(r.series.global[0]!.config);
    expect(new Set(r.configs.map((c) => c.groups.join(","))).size).toBe(r.configs.length);
    // the viewer's read (also for a share link of this circuit)
    const f = await env.as.viewer.evaluations.faithfulness({ circuitId: bee.circuitId });
    expect(f.result?.id).toBe(stored.id);
    expect(f.canStart).toBe(false);
    expect((await env.as.annotator.evaluations.faithfulness({ circuitId: bee.circuitId })).canStart).toBe(true);
  });

  it("faithfulness: a result of the first version (accuracy only) is not read as a curve", () => {
    const old = {
      kind: "faithfulness",
      layers: ["layer4.1"],
      images: 4,
      unmaskedAccuracy: 1,
      points: [{ threshold: 0, config: 0 }],
      configs: [{ groups: [1], neurons: [3], accuracy: 1, random: null }],
      draws: 3,
      seed: 0,
      seconds: 1,
    };
    expect(isFaithfulnessCurve(old)).toBe(false);
    expect(isFaithfulnessCurve(null)).toBe(false);
  });

  it("image debugging of uploaded images (resized to the model's input), equal to the engine on the same pixels", async () => {
    const dir = join(FIXTURE_IMAGES, "ladybug");
    const a = readFileSync(join(dir, readdirSync(dir).sort()[0]!));
    const big = await sharp(readFileSync(join(FIXTURE_IMAGES, "bee", doc.images[0]!)))
      .resize(150, 100)
      .jpeg()
      .toBuffer();
    const form = new FormData();
    form.set("circuitId", String(bee.circuitId));
    form.set("layerIndex", "1");
    form.set("topCrops", "3");
    form.append("images", new File([new Uint8Array(a)], "ladybug.png"));
    form.append("images", new File([new Uint8Array(big)], "../wide bee.jpg"));
    const { jobId, set, names } = await env.as.annotator.evaluations.startImageDebug(form);
    expect(names).toEqual(["ladybug.png", "wide bee.jpg"]);
    const meta = await sharp(join(imageSetDir(env.storageRoot, bee.circuitId, set), "1.png")).metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
    expect(await drain()).toMatchObject({ status: "succeeded" });
    const row = env.db.select().from(evaluations).where(eq(evaluations.jobId, jobId)).get()!;
    const r = row.result as import("~/server/evaluations/compute").DebugImagesResult;
    expect(r.names).toEqual(names);
    expect(r.images).toHaveLength(2);
    const { loadClassImages, tf, debugImages } = await import("~/server/neurflow");
    const loaded = await loadClassImages(
      [0, 1].map((i) => join(imageSetDir(env.storageRoot, bee.circuitId, set), `${i}.png`)),
      64,
    );
    const x = tf.tidy(() => engine.data.model.preprocess(tf.tensor4d(loaded.pixels, [2, 64, 64, 3])));
    const direct = await debugImages(doc, engine.data.model, x, { layerIndex: 1, topCrops: 3 });
    x.dispose();
    expect({ layer: r.layer, threshold: r.threshold, images: r.images }).toEqual(JSON.parse(JSON.stringify(direct)));
    expect((r.images[0] as { groups: { topCrops: unknown[] }[] }).groups[0]!.topCrops).toHaveLength(3);

    // masking on the debugged images
    const m = await runKind({
      kind: "groupMasking",
      params: {
        layerIndex: 1,
        groups: [doc.layers[1]!.neuronGroups[0]!.id],
        draws: 1,
        topPatches: 2,
        images: { debugEvaluation: row.id },
      },
    });
    expect((m.result as { before: number[] }).before).toHaveLength(2);
  });

  it("image debugging of a dataset's false positives (other classes' images the model calls the circuit's class)", async () => {
    // a folder dataset where two bee images are filed under "ladybug": the model calls them bee
    const dir = mkdtempSync(join(env.dir, "fp-"));
    const bees = readdirSync(join(FIXTURE_IMAGES, "bee")).sort().slice(-2);
    const ladybugs = readdirSync(join(FIXTURE_IMAGES, "ladybug")).sort().slice(0, 3);
    mkdirSync(join(dir, "ladybug"));
    mkdirSync(join(dir, "bee"));
    for (const f of bees) copyFileSync(join(FIXTURE_IMAGES, "bee", f), join(dir, "ladybug", `x-${f}`));
    for (const f of ladybugs) copyFileSync(join(FIXTURE_IMAGES, "ladybug", f), join(dir, "ladybug", f));
    copyFileSync(join(FIXTURE_IMAGES, "bee", bees[0]!), join(dir, "bee", bees[0]!));
    const ds = await env.as.admin.datasets.registerFolder({ name: "false positives", path: dir });
    const { jobId } = await env.as.annotator.evaluations.start({
      circuitId: bee.circuitId,
      request: {
        kind: "imageDebug",
        params: { layerIndex: 1, topCrops: 2 },
        falsePositives: { datasetId: ds.id, limit: 4 },
      },
    });
    expect(await drain()).toMatchObject({ status: "succeeded" });
    const r = env.db.select().from(evaluations).where(eq(evaluations.jobId, jobId)).get()!
      .result as import("~/server/evaluations/compute").DebugImagesResult;
    expect(r.source).toBe("falsePositives");
    expect(r.scanned).toBe(5);
    expect([...r.names].sort()).toEqual(bees.map((f) => `ladybug/x-${f}`).sort());
    expect(r.classes).toEqual(["ladybug", "ladybug"]);
    expect(r.images.every((i) => (i as { predicted: number }).predicted === doc.class.index)).toBe(true);
    expect(readdirSync(imageSetDir(env.storageRoot, bee.circuitId, r.set)).sort()).toEqual(["0.png", "1.png"]);

    // only the circuit's class: a clear failure, nothing stored
    const only = mkdtempSync(join(env.dir, "fp-"));
    mkdirSync(join(only, "bee"));
    copyFileSync(join(FIXTURE_IMAGES, "bee", bees[0]!), join(only, "bee", bees[0]!));
    const ds2 = await env.as.admin.datasets.registerFolder({ name: "only bees", path: only });
    const before = counts();
    const second = await env.as.annotator.evaluations.start({
      circuitId: bee.circuitId,
      request: { kind: "imageDebug", params: { layerIndex: 1 }, falsePositives: { datasetId: ds2.id, limit: 4 } },
    });
    expect(await drain()).toMatchObject({
      status: "failed",
      error: expect.stringContaining('has no images of classes other than "bee"'),
    });
    expect(env.db.select().from(evaluations).where(eq(evaluations.jobId, second.jobId)).get()).toBeUndefined();
    expect(counts().evaluations).toBe(before.evaluations);

    // other classes that the model gets right: no false positives, said with the dataset's name
    const suns = mkdtempSync(join(env.dir, "fp-"));
    mkdirSync(join(suns, "sun"));
    for (const f of readdirSync(join(FIXTURE_IMAGES, "sun")).sort().slice(0, 2))
      copyFileSync(join(FIXTURE_IMAGES, "sun", f), join(suns, "sun", f));
    const ds3 = await env.as.admin.datasets.registerFolder({ name: "two suns", path: suns });
    await env.as.annotator.evaluations.start({
      circuitId: bee.circuitId,
      request: { kind: "imageDebug", params: { layerIndex: 1 }, falsePositives: { datasetId: ds3.id, limit: 4 } },
    });
    expect(await drain()).toMatchObject({
      status: "failed",
      error: expect.stringContaining('in dataset "two suns" to "bee": no false positives'),
    });
    expect(counts().evaluations).toBe(before.evaluations);
  });
});

describe("validation", () => {
  const cases: [string, unknown, string][] = [
    ["too many random sets", { kind: "optimality", params: { randomSets: 5000 } }, "at most 1000 random sets"],
    ["an unknown parameter", { kind: "optimality", params: { tau: 3 } }, "Unrecognized key"],
    ["k above the patches", { kind: "optimality", params: { k: 400 } }, "more than the circuit's"],
    ["a layer pair out of range", { kind: "fidelityOfWeights", params: { pairs: [7] } }, "no layer pair 7"],
    [
      "τ above the circuit's τ",
      { kind: "fidelityOfNeurons", params: { taus: [2, 5] } },
      "τ = 5 is larger than the circuit's τ = 3",
    ],
    [
      "a group not in the layer",
      { kind: "groupMasking", params: { layerIndex: 1, groups: [999] } },
      "has no neuron group 999",
    ],
    [
      "core neurons of the logit",
      { kind: "groupMasking", params: { layerIndex: 0, groups: "core" } },
      "is the class logit",
    ],
    [
      "masking another circuit's debug images",
      { kind: "groupMasking", params: { layerIndex: 1, groups: "core", images: { debugEvaluation: 999 } } },
      "no image-debugging result 999",
    ],
    ["a threshold above 1", { kind: "faithfulness", params: { thresholds: [0.5, 2] } }, "<=1"],
    ["too many faithfulness draws", { kind: "faithfulness", params: { draws: 201 } }, "<=200"],
    ["set sizes repeated", { kind: "fidelityOfWeights", params: { setSizes: [2, 2] } }, "must differ"],
  ];
  for (const [what, request, message] of cases)
    it(`refuses ${what}: clear error, nothing queued or stored`, async () => {
      const before = counts();
      await expect(
        env.as.annotator.evaluations.start({ circuitId: bee.circuitId, request } as never),
      ).rejects.toMatchObject({ message: expect.stringContaining(message) });
      expect(counts()).toEqual(before);
    });

  it("τ above the circuit's is refused with the engine's own message", async () => {
    const { coreNeuronsAtTau } = await import("~/server/neurflow/light");
    const engineMessage = (() => {
      try {
        coreNeuronsAtTau(doc, 4);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(engineMessage).toBeDefined();
    await expect(
      env.as.annotator.evaluations.start({
        circuitId: bee.circuitId,
        request: { kind: "fidelityOfNeurons", params: { taus: [4] } },
      }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: engineMessage,
    });
  });

  it("refuses bad uploads naming the file and the rule, keeping no files", async () => {
    const before = counts();
    const bad = async (files: [Buffer | string, string][], over: Record<string, string> = {}) => {
      const form = new FormData();
      form.set("circuitId", String(bee.circuitId));
      form.set("layerIndex", "1");
      for (const [k, v] of Object.entries(over)) form.set(k, v);
      for (const [d, n] of files) form.append("images", new File([typeof d === "string" ? d : new Uint8Array(d)], n));
      return env.as.annotator.evaluations.startImageDebug(form);
    };
    const png = readFileSync(join(FIXTURE_IMAGES, "bee", doc.images[0]!));
    await expect(bad([["not an image", "notes.png"]])).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("notes.png: not an image"),
    });
    await expect(bad([[png.subarray(0, png.length - 40), "cut.png"]])).rejects.toMatchObject({
      message: expect.stringMatching(/cut\.png: (not an image|the image data is corrupt)/),
    });
    await expect(
      bad([
        [
          await sharp({ create: { width: 4, height: 4, channels: 3, background: "#fff" } })
            .png()
            .toBuffer(),
          "tiny.png",
        ],
      ]),
    ).rejects.toMatchObject({
      message: expect.stringContaining("tiny.png: 4×4 is too small"),
    });
    await expect(bad([])).rejects.toMatchObject({ message: expect.stringContaining("at least one image") });
    await expect(
      bad(Array.from({ length: 33 }, (_, i) => [png, `${i}.png`] as [Buffer, string])),
    ).rejects.toMatchObject({ message: expect.stringContaining("at most 32") });
    await expect(bad([[png, "ok.png"]], { layerIndex: "9" })).rejects.toMatchObject({
      message: expect.stringContaining("no layer pair 9"),
    });
    await expect(bad([[png, "ok.png"]], { topCrops: "50" })).rejects.toMatchObject({
      message: expect.stringContaining("topCrops"),
    });
    await expect(bad([[png, "ok.png"]], { layerIndex: "" })).rejects.toMatchObject({
      message: expect.stringContaining("a layer is required"),
    });
    await expect(bad([[png, "ok.png"]], { threshold: "high" })).rejects.toMatchObject({
      message: expect.stringContaining("threshold"),
    });
    expect(counts()).toEqual(before);
    const tmp = join(env.storageRoot, "tmp");
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
  });

  it("an empty threshold or crop-count field takes the default, never 0", async () => {
    const form = new FormData();
    form.set("circuitId", String(bee.circuitId));
    form.set("layerIndex", "1");
    form.set("threshold", "");
    form.set("topCrops", " ");
    form.append(
      "images",
      new File([new Uint8Array(readFileSync(join(FIXTURE_IMAGES, "bee", doc.images[0]!)))], "bee.png"),
    );
    const { jobId } = await env.as.annotator.evaluations.startImageDebug(form);
    const job = env.db.select().from(jobs).where(eq(jobs.id, jobId)).get()!;
    env.db.delete(jobs).where(eq(jobs.id, jobId)).run(); // checked, not run
    expect((job.payload as { params: unknown }).params).toEqual({ layerIndex: 1, ...EVALUATION_DEFAULTS.imageDebug });
  });

  it("a bad job payload is refused when queued; one already stored fails the job at once and stores nothing", async () => {
    const before = counts();
    const bad = { circuitId: bee.circuitId, createdBy: null, kind: "optimality", params: { randomSets: 1e6 } };
    await expect(env.queue.enqueue("evaluation", bad as never)).rejects.toThrow(/bad evaluation payload/);
    expect(counts()).toStrictEqual(before);
    // a row the queue would refuse today (written by an older version, say) is refused by the worker
    const now = Date.now();
    env.db
      .insert(jobs)
      .values({ kind: "evaluation", status: "queued", payload: bad, runAt: now, createdAt: now, updatedAt: now })
      .run();
    const o = await drain();
    expect(o).toMatchObject({ status: "failed", error: expect.stringContaining("bad evaluation payload") });
    expect(counts().evaluations).toBe(before.evaluations);
  });
});

describe("the worker's lease under a busy handler", () => {
  it("progress calls renew the lease when the work never yields to timers", async () => {
    const { jobId } = await env.as.annotator.evaluations.start({
      circuitId: bee.circuitId,
      request: { kind: "faithfulness", params: { thresholds: [0], draws: 0 } },
    });
    const leaseMs = 400;
    const expiresSeen: number[] = [];
    const w = new Worker({
      queue: env.queue,
      leaseMs,
      progressIntervalMs: 0,
      handlers: {
        evaluation: {
          async run(ctx) {
            // 2 s of synchronous work in 50 ms slices with only microtask breaks, like tensor code
            for (let i = 0; i < 40; i++) {
              const until = Date.now() + 50;
              while (Date.now() < until);
              await ctx.progress(i / 40, `slice ${i}`);
              expiresSeen.push(
                env.db.select({ e: jobs.leaseExpiresAt }).from(jobs).where(eq(jobs.id, jobId)).get()!.e! - Date.now(),
              );
            }
            return null;
          },
        },
      },
    });
    expect(await w.runOnce()).toMatchObject({ status: "succeeded" });
    // the lease never lapsed although the heartbeat timer could not fire
    expect(expiresSeen).toHaveLength(40);
    expect(Math.min(...expiresSeen)).toBeGreaterThan(0);
  });
});

describe("roles, share links, cancel, deletion", () => {
  it("viewers read but cannot start or cancel; share-link holders read only the faithfulness figure", async () => {
    await expect(
      env.as.viewer.evaluations.start({ circuitId: bee.circuitId, request: { kind: "faithfulness", params: {} } }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    const list = await env.as.viewer.evaluations.list({ circuitId: bee.circuitId });
    expect(list.results.length).toBeGreaterThan(0);
    const { token } = createShareLink(env.db, {
      circuitId: bee.circuitId,
      viewState: { selected: null, threshold: 0, zoom: null, pan: null, heatmaps: false },
      createdBy: null,
      expiresAt: null,
    });
    const share = createCaller(
      createContext({
        db: env.db,
        queue: env.queue,
        storageRoot: env.storageRoot,
        headers: new Headers({ [SHARE_HEADER]: token }),
        resHeaders: new Headers(),
      }),
    );
    const f = await share.evaluations.faithfulness({ circuitId: bee.circuitId });
    expect(f.result).not.toBeNull();
    expect(f.canStart).toBe(false);
    await expect(share.evaluations.list({ circuitId: bee.circuitId })).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(share.evaluations.faithfulness({ circuitId: bee.circuitId + 1000 })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
  });

  it("cancel stops a running evaluation and stores nothing", async () => {
    const before = counts();
    const { jobId } = await env.as.annotator.evaluations.start({
      circuitId: bee.circuitId,
      request: { kind: "optimality", params: { pairs: [1, 2], taus: [2, 3], targets: 3, randomSets: 1000, k: 12 } },
    });
    // the web process cancels while the worker is busy (the engine's knockouts do not yield to
    // timers, so in one process the cancel is issued from the worker's first progress write)
    let canceled = false;
    class CancelDuringRun extends SqliteJobQueue {
      override async progress(...args: Parameters<SqliteJobQueue["progress"]>) {
        if (!canceled && args[2].fraction > 0) {
          canceled = true;
          expect(await env.as.annotator.evaluations.cancel({ jobId })).toEqual({ status: "running" });
        }
        return super.progress(...args);
      }
    }
    const w = new Worker({
      queue: new CancelDuringRun(env.db),
      handlers: { evaluation: evaluationJobHandler(env.db, env.storageRoot) },
      leaseMs: 60_000,
      progressIntervalMs: 0,
    });
    const started = Date.now();
    expect(await w.runOnce()).toMatchObject({ status: "canceled" });
    expect(canceled).toBe(true);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect((await env.queue.get(jobId))!.status).toBe("canceled");
    expect(counts().evaluations).toBe(before.evaluations);
    await expect(env.as.annotator.evaluations.cancel({ jobId: 999_999 })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("deleting the circuit deletes its results and its uploaded images", async () => {
    expect(
      env.db.select().from(evaluations).where(eq(evaluations.circuitId, bee.circuitId)).all().length,
    ).toBeGreaterThan(0);
    expect(existsSync(evaluationsDir(env.storageRoot, bee.circuitId))).toBe(true);
    await env.as.admin.circuits.delete({ id: bee.circuitId });
    expect(env.db.select().from(evaluations).where(eq(evaluations.circuitId, bee.circuitId)).all()).toEqual([]);
    expect(existsSync(evaluationsDir(env.storageRoot, bee.circuitId))).toBe(false);
  });
});
