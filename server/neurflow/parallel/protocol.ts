/** Messages between the circuit run and its workers: activation batches and attribution targets. */
import type { ActivationBuffers } from "../activations";
import type { BackendName } from "../backend";
import type { AttributionResult } from "../targetAttribution";
import type { Patch } from "../patches";
import type { AttributionTask, LayerMaps } from "../targetAttribution";

export type WorkerRequest =
  | {
      type: "init";
      manifestPath: string;
      backend: BackendName;
      /** Normalised images, NHWC. */
      pixels: Float32Array;
      shape: [number, number, number, number];
      patches: Patch[];
      rules: { alphas: Float64Array; weights: Float64Array }[];
      tolerance: number;
      igRowElements?: number;
    }
  | { type: "maps"; maps: LayerMaps | null }
  | { type: "task"; id: number; task: AttributionTask }
  | { type: "activations"; id: number; buffers: ActivationBuffers; from: number; to: number; batchSize: number };

export type WorkerReply =
  | { type: "ready" }
  | { type: "result"; id: number; result: AttributionResult }
  | { type: "filled"; id: number }
  | { type: "error"; id?: number; message: string };
