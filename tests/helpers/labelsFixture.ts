/**
 * A stored circuit whose class images exist on disk: synthetic images written as a server-folder
 * dataset (`<dir>/bee/000.png`…), registered by the admin, and a synthetic circuit imported by the
 * annotator. The label job finds the images through the dataset (as for any imported circuit).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { models, runs } from "~/db/schema";
import { importCircuit } from "~/server/circuits/store";
import type { LabelConfig } from "~/server/labeling/config";
import { syntheticCircuit, type SyntheticOptions } from "./syntheticCircuit";
import type { TestEnv } from "./testEnv";

export async function writeClassImages(dir: string, className: string, count: number, size = 64): Promise<void> {
  const folder = join(dir, className);
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < count; i++) {
    const raw = Buffer.alloc(size * size * 3);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const o = (y * size + x) * 3;
        raw[o] = (x * 4 + i * 50) & 255;
        raw[o + 1] = (y * 4) & 255;
        raw[o + 2] = ((x ^ y) * 8 + i * 30) & 255;
      }
    await sharp(raw, { raw: { width: size, height: size, channels: 3 } })
      .png()
      .toFile(join(folder, `${String(i).padStart(3, "0")}.png`));
  }
}

const datasetOf = new WeakMap<TestEnv, number>();

async function ensureDataset(env: TestEnv): Promise<number> {
  let id = datasetOf.get(env);
  if (id == null) {
    const dir = join(env.dir, "class-images");
    await writeClassImages(dir, "bee", 4);
    id = (await env.as.admin.datasets.registerFolder({ name: "label test images", path: dir })).id;
    datasetOf.set(env, id);
  }
  return id;
}

/** Imports a synthetic circuit (class bee, 4 images) whose images are on disk; returns its id. */
export async function labelledCircuit(env: TestEnv, opts: SyntheticOptions = {}): Promise<number> {
  await ensureDataset(env);
  const doc = syntheticCircuit({ images: 4, ...opts });
  return (await env.as.annotator.circuits.import({ document: doc })).id;
}

/** A synthetic circuit stored as the result of a run on the registered images (as the worker stores one). */
export async function runCircuit(env: TestEnv, opts: SyntheticOptions = {}): Promise<number> {
  const datasetId = await ensureDataset(env);
  const doc = syntheticCircuit({ images: 4, ...opts });
  const now = Date.now();
  const model = env.db
    .insert(models)
    .values({
      name: "synthetic",
      format: "onnx",
      dir: env.dir,
      manifestPath: join(env.dir, "manifest.json"),
      filePath: join(env.dir, "model.onnx"),
      manifest: { classes: doc.model.classes } as never,
      checksum: "0",
      sizeBytes: 1,
      status: "ready",
      createdAt: now,
    })
    .returning()
    .get();
  const run = env.db
    .insert(runs)
    .values({
      modelId: model.id,
      datasetId,
      className: "bee",
      classIndex: 0,
      layers: doc.params.layers,
      params: {},
      status: "succeeded",
      layerTimings: [],
      createdAt: now,
    })
    .returning()
    .get();
  return importCircuit(env.db, doc, { runId: run.id, modelId: model.id });
}

/** A labeling configuration pointed at a fake server, with test-sized limits. */
export function testLabelConfig(url: string, limits: Partial<LabelConfig["limits"]> = {}): LabelConfig {
  return {
    configured: true,
    apiKey: "test-key",
    baseURL: url,
    model: "fake-vlm-1",
    limits: {
      concurrency: 3,
      maxAttempts: 3,
      maxMalformed: 2,
      timeoutMs: 10_000, // generous: a loaded machine must not turn a good reply into a retry
      backoffMs: 10,
      backoffMaxMs: 60,
      maxCalls: 500,
      edgesPerParent: 2,
      patchesPerGroup: 9,
      ...limits,
    },
  };
}
