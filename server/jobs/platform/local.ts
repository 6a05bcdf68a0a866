/** The worker's platform on the application database and the local disk (workers on the web machine). */
import { eq } from "drizzle-orm";
import { join } from "node:path";
import type { Db } from "~/db/client";
import { datasets, models, runs } from "~/db/schema";
import { importCircuit } from "~/server/circuits/store";
import { localEvaluationInputs } from "~/server/evaluations/inputs";
import { localHeatmapStore } from "~/server/heatmaps/inputs";
import { localLabelStore } from "~/server/labeling/labelCircuit";
import { storageRoot } from "~/server/storage/paths";
import type { Circuit } from "~/server/neurflow/light";
import { isWorkerPlatform, type CircuitRunInputs, type RunPatch, type WorkerPlatform } from "./port";

/** A run's inputs from the database, with the model's and dataset's paths on this machine. */
export function circuitRunRecord(
  db: Db,
  runId: number,
):
  | { ok: false; error: string }
  | {
      ok: true;
      run: typeof runs.$inferSelect;
      model: typeof models.$inferSelect;
      dataset: typeof datasets.$inferSelect;
    } {
  const run = db.select().from(runs).where(eq(runs.id, runId)).get();
  if (!run) return { ok: false, error: `run ${runId} no longer exists` };
  const model = db.select().from(models).where(eq(models.id, run.modelId)).get();
  const dataset = db.select().from(datasets).where(eq(datasets.id, run.datasetId)).get();
  if (!model || !dataset) return { ok: false, error: `the model or dataset of run ${runId} was deleted` };
  return { ok: true, run, model, dataset };
}

/** Stores a run's circuit once (importCircuit keeps one per run) and records the backend it ran on. */
export function storeRunCircuit(db: Db, runId: number, circuit: Circuit): number {
  const run = db.select().from(runs).where(eq(runs.id, runId)).get();
  if (!run) throw new Error(`run ${runId} no longer exists`);
  const circuitId = importCircuit(db, circuit, { runId, modelId: run.modelId, storedBy: run.createdBy });
  db.update(runs).set({ backend: circuit.params.backend }).where(eq(runs.id, runId)).run();
  return circuitId;
}

export function updateRunRow(db: Db, runId: number, patch: RunPatch): void {
  if (Object.keys(patch).length === 0) return;
  db.update(runs).set(patch).where(eq(runs.id, runId)).run();
}

export function setModelStatusRow(db: Db, modelId: number, status: "ready" | "invalid", message: string): void {
  db.update(models).set({ status, statusMessage: message }).where(eq(models.id, modelId)).run();
}

/** `root`: the storage folder heatmaps and evaluation image sets are kept in (NEURFLOW_DATA by default). */
export function localPlatform(db: Db, root: string = storageRoot()): WorkerPlatform {
  return {
    where: `the database at ${db.$client.name}`,
    async circuitRun(runId) {
      const r = circuitRunRecord(db, runId);
      if (!r.ok) return r;
      const inputs: CircuitRunInputs = {
        runId,
        className: r.run.className,
        layers: r.run.layers,
        params: r.run.params,
        layerTimings: r.run.layerTimings,
        startedAt: r.run.startedAt,
        modelId: r.model.id,
        manifestPath: r.model.manifestPath,
        images: join(r.dataset.dir, r.run.className),
      };
      return { ok: true, ...inputs };
    },
    async updateRun(runId, patch) {
      updateRunRow(db, runId, patch);
    },
    async storeCircuit(runId, circuit) {
      return storeRunCircuit(db, runId, circuit);
    },
    async modelForCheck(modelId) {
      const m = db.select().from(models).where(eq(models.id, modelId)).get();
      return m ? { manifestPath: m.manifestPath, dir: m.dir } : null;
    },
    async setModelStatus(modelId, status, message) {
      setModelStatusRow(db, modelId, status, message);
    },
    labels: localLabelStore(db),
    heatmaps: localHeatmapStore(db, root),
    evaluations: localEvaluationInputs(db, root),
  };
}

/** The platform a handler factory was given: as is, or the local one on a database. */
export function platformOf(x: WorkerPlatform | Db, root?: string): WorkerPlatform {
  return isWorkerPlatform(x) ? x : localPlatform(x, root);
}
