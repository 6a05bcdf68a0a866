/**
 * What the job handlers read and write outside the queue, as one interface ("the worker's
 * platform"): the same handler code runs on the web machine against the database
 * (`localPlatform`, local.ts) and on another machine against the platform's internal HTTP API
 * (`httpPlatform`, http.ts), which fetches model and dataset files once into a cache on the worker's
 * disk and hands the engine their local paths.
 */
import type { LayerTiming, RunParams } from "~/db/schema";
import type { EvaluationInputs } from "~/server/evaluations/inputs";
import type { HeatmapStore } from "~/server/heatmaps/inputs";
import type { LabelStore } from "~/server/labeling/labelCircuit";
import type { Circuit } from "~/server/neurflow/light";
import type { RunPatch } from "~/server/workers/protocol";

export type { RunPatch };

export interface CircuitRunInputs {
  runId: number;
  className: string;
  layers: string[];
  params: RunParams;
  layerTimings: LayerTiming[];
  startedAt: number | null;
  modelId: number;
  /** Local path of the model's manifest.json (its model files beside it). */
  manifestPath: string;
  /** Local folder of the class's images. */
  images: string;
}

export interface WorkerPlatform {
  /** For log lines: "the database at …" or "https://web:3000". */
  readonly where: string;
  /** A run's inputs, or why it cannot run (the run, its model or its dataset was deleted: a retry cannot help). */
  circuitRun(runId: number): Promise<({ ok: true } & CircuitRunInputs) | { ok: false; error: string }>;
  updateRun(runId: number, patch: RunPatch): Promise<void>;
  /** Stores the run's circuit (and the backend it ran on); a second store for the same run returns the first id. */
  storeCircuit(runId: number, circuit: Circuit): Promise<number>;
  /** The model's manifest path and folder (local paths), or null when the model is gone. */
  modelForCheck(modelId: number): Promise<{ manifestPath: string; dir: string } | null>;
  setModelStatus(modelId: number, status: "ready" | "invalid", message: string): Promise<void>;
  labels: LabelStore;
  /** What heatmap jobs read (a group, its model, its patches) and where their heatmaps go. */
  heatmaps: HeatmapStore;
  /** What evaluation jobs read (the circuit, its model and images, image sets) and where their results go. */
  evaluations: EvaluationInputs;
}

/** A handler factory's first argument: a platform, or the database (the local platform on it). */
export function isWorkerPlatform(x: unknown): x is WorkerPlatform {
  return typeof x === "object" && x !== null && "circuitRun" in x && "labels" in x;
}
