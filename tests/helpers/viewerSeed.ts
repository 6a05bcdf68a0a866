/**
 * A stored circuit whose images are on disk, for the viewer's tests: the toy-world model uploaded,
 * its images registered as a server-folder dataset, a run row and the circuit stored for it (so
 * the image routes find `<dataset>/<class>/<image>`).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Db } from "~/db/client";
import { runs, type RunParams } from "~/db/schema";
import { createCaller } from "~/server/api/root";
import { importCircuit } from "~/server/circuits/store";
import type { Circuit } from "~/server/neurflow/light";
import { FIXTURE, FIXTURE_IMAGES } from "./fixtures";

type Caller = ReturnType<typeof createCaller>;

export interface Seeded {
  modelId: number;
  datasetId: number;
  runId: number;
  circuitId: number;
}

/** Registers the model and the dataset once per database (pass `reuse` to skip). */
export async function seedModelAndDataset(admin: Caller): Promise<{ modelId: number; datasetId: number }> {
  const form = new FormData();
  form.set("name", "toyworld-a");
  form.set("manifest", new File([readFileSync(join(FIXTURE, "manifest.json"))], "manifest.json"));
  form.set("onnx", new File([readFileSync(join(FIXTURE, "toynet.onnx"))], "toynet.onnx"));
  const m = await admin.models.upload(form);
  const d = await admin.datasets.registerFolder({ name: "toy images", path: FIXTURE_IMAGES, modelId: m.id });
  return { modelId: m.id, datasetId: d.id };
}

export function seedCircuit(
  db: Db,
  base: { modelId: number; datasetId: number },
  circuit: Circuit,
  userId: number | null = null,
): Seeded {
  const runId = db
    .insert(runs)
    .values({
      modelId: base.modelId,
      datasetId: base.datasetId,
      className: circuit.class.name,
      classIndex: circuit.class.index,
      layers: circuit.params.layers,
      params: {
        tau: circuit.params.tau,
        k: circuit.params.k,
        igSteps: circuit.params.igSteps,
        preset: circuit.params.preset,
      } as RunParams,
      status: "succeeded",
      layerTimings: [],
      createdBy: userId,
      createdAt: Date.now(),
      finishedAt: Date.now(),
    })
    .returning({ id: runs.id })
    .get().id;
  const circuitId = importCircuit(db, circuit, { runId, modelId: base.modelId, storedBy: userId });
  return { ...base, runId, circuitId };
}

export const TOY_LAYERS = ["fc", "layer4.1", "layer4.0", "layer3.1"];

/** The engine on the toy fixture: class `className`, τ 3, k 12, N 4, four layers, four images (a few seconds). */
export async function toyCircuit(className = "bee", tau = 3): Promise<Circuit> {
  const { buildCircuit } = await import("~/server/neurflow");
  const dir = join(FIXTURE_IMAGES, className);
  const images = readdirSync(dir)
    .sort()
    .slice(0, 4)
    .map((f) => join(dir, f));
  return buildCircuit(
    {
      manifestPath: join(FIXTURE, "manifest.json"),
      images,
      className,
      layers: TOY_LAYERS,
      params: { tau, k: 12, igSteps: 4 },
    },
    {},
  );
}
