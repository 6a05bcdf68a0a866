/**
 * What an evaluation job reads and writes (`EvaluationInputs`): the circuit as its document and its
 * model, the circuit's images, stored image sets, an image-debugging result's images, the concept
 * graph's visibility (faithfulness), a dataset's images of other classes (false positives), and
 * where the job's new image set and its result go. `localEvaluationInputs` is the implementation on
 * the database and the storage folder (workers on the web machine); a worker on another machine
 * gets the same through the platform's internal API (server/jobs/platform/http.ts,
 * server/workers/api.ts), which answers with the functions below, so both compute and store the same.
 */
import { asc, eq } from "drizzle-orm";
import { join } from "node:path";
import type { Db } from "~/db/client";
import { circuits, datasets, evaluations, images as imageRows, models, type EvaluationKind } from "~/db/schema";
import { circuitImageDir, loadGraph } from "~/server/circuits/graph";
import { exportCircuit } from "~/server/circuits/store";
import type { VisibilityGraph } from "~/lib/circuits/visibility";
import type { Circuit } from "~/server/neurflow/light";
import { imageSetDir, storeEvaluation } from "./store";
import { writeImageSet } from "./uploads";

/** A failure no retry can fix (the circuit or its model is gone, bad images). */
export class EvaluationInputError extends Error {
  override name = "EvaluationInputError";
}

/** What the faithfulness series needs of the concept graph: which groups are visible, and their neurons. */
export type FaithfulnessGraph = Omit<VisibilityGraph, "groups"> & {
  groups: { id: number; layer: number; members: { neuron: number }[] }[];
};

/** An image of a dataset, and where its file is on this machine (fetched on demand by a remote worker). */
export interface DatasetImage {
  className: string;
  fileName: string;
  path(): Promise<string>;
}

/** An evaluation's stored row, less what the job's payload says (circuit, kind, author). */
export interface EvaluationOutcome {
  params: Record<string, unknown>;
  result: unknown;
  seconds: number;
}

export interface EvaluationInputs {
  /** The circuit's document and its registered model's manifest (on this machine). */
  circuit(circuitId: number): Promise<{ doc: Circuit; manifestPath: string }>;
  /** A folder holding the circuit's images under their names, or null when its dataset is gone. */
  circuitImages(circuitId: number, doc: Circuit): Promise<string | null>;
  /** A folder holding image set `set`'s `0.png … (count-1).png`. */
  imageSet(circuitId: number, set: string, count: number): Promise<string>;
  /** The images of image-debugging result `evaluationId` of this circuit, or null. */
  debugSource(circuitId: number, evaluationId: number): Promise<{ set: string; names: string[] } | null>;
  visibility(circuitId: number): Promise<FaithfulnessGraph | null>;
  /** Up to `cap` registered images of dataset `datasetId` not of class `exclude`, in registration order; null without the dataset. */
  otherClassImages(
    datasetId: number,
    exclude: string,
    cap: number,
  ): Promise<{ datasetName: string; images: DatasetImage[] } | null>;
  /** Stores raw model-size RGB images as a new image set of the circuit (job `jobId` made them); returns its id. */
  storeImageSet(jobId: number | null, circuitId: number, raws: Buffer[], size: number): Promise<string>;
  /** Stores job `jobId`'s result (once per job); returns the row id. */
  store(jobId: number | null, payload: StoreTarget, outcome: EvaluationOutcome): Promise<number>;
  /**
   * The database and storage folder, on a worker of the web machine only: the class-dependence
   * report still reads them directly (a remote worker refuses that evaluation by name).
   */
  local?: { db: Db; root: string };
}

/** What the job's payload says of the result's row. */
export interface StoreTarget {
  circuitId: number;
  kind: EvaluationKind;
  createdBy: number | null;
}

/** The circuit's registered model, or why the evaluation cannot run. */
export function evaluationModel(db: Db, circuitId: number): { id: number; manifestPath: string } {
  const row = db
    .select({ id: models.id, manifestPath: models.manifestPath })
    .from(circuits)
    .innerJoin(models, eq(models.id, circuits.modelId))
    .where(eq(circuits.id, circuitId))
    .get();
  if (!row) throw new EvaluationInputError(`circuit ${circuitId} has no registered model: evaluations need the model`);
  return row;
}

export function evaluationCircuitDoc(db: Db, circuitId: number): Circuit {
  const doc = exportCircuit(db, circuitId);
  if (!doc) throw new EvaluationInputError(`circuit ${circuitId} no longer exists`);
  return doc;
}

export function debugSourceOf(
  db: Db,
  circuitId: number,
  evaluationId: number,
): { set: string; names: string[] } | null {
  const src = db
    .select({ circuitId: evaluations.circuitId, kind: evaluations.kind, result: evaluations.result })
    .from(evaluations)
    .where(eq(evaluations.id, evaluationId))
    .get();
  if (!src || src.circuitId !== circuitId || src.kind !== "imageDebug") return null;
  const { set, names } = src.result as { set: string; names: string[] };
  return { set, names };
}

export function visibilityOf(db: Db, circuitId: number): FaithfulnessGraph | null {
  const graph = loadGraph(db, circuitId);
  if (!graph) return null;
  return {
    groups: graph.groups.map((g) => ({
      id: g.id,
      layer: g.layer,
      members: g.members.map((m) => ({ neuron: m.neuron })),
    })),
    edges: graph.edges.map((e) => ({ id: e.id, source: e.source, target: e.target, weight: e.weight })),
    logitEdges: graph.logitEdges.map((e) => ({ group: e.group })),
  };
}

/** A dataset's folder and name, and its registered images not of class `exclude` (at most `cap`). */
export function otherClassRows(
  db: Db,
  datasetId: number,
  exclude: string,
  cap: number,
): { dir: string; name: string; rows: { className: string; fileName: string }[] } | null {
  const ds = db
    .select({ dir: datasets.dir, name: datasets.name })
    .from(datasets)
    .where(eq(datasets.id, datasetId))
    .get();
  if (!ds) return null;
  const rows = db
    .select({ className: imageRows.className, fileName: imageRows.fileName })
    .from(imageRows)
    .where(eq(imageRows.datasetId, datasetId))
    .orderBy(asc(imageRows.id))
    .all()
    .filter((r) => r.className !== exclude)
    .slice(0, cap);
  return { ...ds, rows };
}

export function localEvaluationInputs(db: Db, root: string): EvaluationInputs {
  return {
    local: { db, root },
    async circuit(circuitId) {
      const doc = evaluationCircuitDoc(db, circuitId);
      return { doc, manifestPath: evaluationModel(db, circuitId).manifestPath };
    },
    async circuitImages(circuitId) {
      return circuitImageDir(db, circuitId);
    },
    async imageSet(circuitId, set) {
      return imageSetDir(root, circuitId, set);
    },
    async debugSource(circuitId, evaluationId) {
      return debugSourceOf(db, circuitId, evaluationId);
    },
    async visibility(circuitId) {
      return visibilityOf(db, circuitId);
    },
    async otherClassImages(datasetId, exclude, cap) {
      const ds = otherClassRows(db, datasetId, exclude, cap);
      if (!ds) return null;
      return {
        datasetName: ds.name,
        images: ds.rows.map((r) => ({ ...r, path: async () => join(ds.dir, r.className, r.fileName) })),
      };
    },
    storeImageSet(_jobId, circuitId, raws, size) {
      return writeImageSet(root, circuitId, raws, size);
    },
    async store(jobId, target, outcome) {
      return storeEvaluation(db, { ...target, ...outcome, jobId });
    },
  };
}
