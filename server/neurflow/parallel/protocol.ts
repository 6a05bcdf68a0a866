/** Messages between the circuit run and its attribution workers. */
import type { BackendName } from "../backend";
import type { Patch } from "../patches";
import type { AttributionTask } from "../targetAttribution";

export type WorkerRequest =
  | {
      type: "init";
      manifestPath: string;
      backend: BackendName;
      /** Normalised images, NHWC. */
      pixels: Float32Array;
      shape: [number, number, number, number];
      patches: Patch[];
      alphas: Float64Array;
      weights: Float64Array;
      igRowElements?: number;
    }
  | { type: "task"; id: number; task: AttributionTask };

export type WorkerReply =
  | { type: "ready" }
  | { type: "result"; id: number; perPatch: Float32Array; channels: number; totals: Float64Array; f0: number }
  | { type: "error"; id?: number; message: string };
