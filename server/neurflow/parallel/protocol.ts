/**
 * Messages between the engine and its worker threads: activation batches and attribution targets
 * of a circuit run, knockouts of the evaluations.
 */
import type { QuadratureRule } from "../quadrature";
import type { ActivationBuffers } from "../activations";
import type { BackendName } from "../backend";
import type { ModelSource } from "../model/loadModel";
import type { Patch } from "../patches";
import type { AttributionResult, AttributionSettings, AttributionTask, LayerMaps } from "../targetAttribution";

export interface WorkerInit {
  model: ModelSource;
  backend: BackendName;
  /** Normalised images, NHWC. */
  pixels: Float32Array;
  shape: [number, number, number, number];
  patches: Patch[];
  /** This worker's place in its pool (0 … size − 1); set by the pool. */
  index?: number;
  /** Integrated-gradients settings (circuit runs only). */
  rules?: QuadratureRule[];
  tolerance?: number;
  decision?: AttributionSettings["decision"];
  igRowElements?: number;
}

/** Work a pool hands to whichever worker is idle; each kind has its reply value. */
export type WorkerJob =
  | { type: "task"; task: AttributionTask }
  | { type: "activations"; buffers: ActivationBuffers; from: number; to: number; batchSize: number }
  | { type: "knockouts"; target: number; sets: number[][] };

/** State every worker must hold alike: sent to all of them. */
export type WorkerBroadcast =
  | { type: "maps"; maps: LayerMaps | null }
  /** Each worker holds the slice of its share of the patches: `shares[index]` = [from, to). */
  | { type: "knockoutSlice"; lower: string; upper: string; batchSize?: number; shares: [number, number][] };

export type WorkerRequest = ({ type: "init" } & WorkerInit) | ((WorkerJob | WorkerBroadcast) & { id: number });

export type WorkerValue = AttributionResult | Float32Array | null;

export type WorkerReply =
  | { type: "ready" }
  | { type: "done"; id: number; value: WorkerValue }
  | { type: "error"; id?: number; message: string };
