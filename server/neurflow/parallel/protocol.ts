/** Messages between the circuit run and its attribution workers. */
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
  | { type: "task"; id: number; task: AttributionTask };

export type WorkerReply =
  | { type: "ready" }
  | { type: "result"; id: number; result: AttributionResult }
  | { type: "error"; id?: number; message: string };
