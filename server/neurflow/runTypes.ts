/**
 * What a circuit run takes and reports: the request, progress events, and the per-layer
 * checkpoint a durable job stores so an interrupted run resumes from the last finished layer.
 */
import type { CircuitLayer, CircuitParams } from "./circuitFormat";

export interface DecodedImages {
  names: string[];
  pixels: Float32Array | Uint8Array;
  size: number;
}

export interface CircuitRequest {
  /** Path of the model manifest (manifest.json). */
  manifestPath: string;
  /**
   * Folder with the class's images (PNG, JPEG or WebP; larger than the input: resized to it), an explicit list of image files, or images
   * already decoded (raw RGB, [n, size, size, 3], values 0..255).
   */
  images: string | string[] | DecodedImages;
  /** Class name from the manifest. */
  className: string;
  /** Layer names from the manifest, top-down (e.g. ["fc", "layer4.1", ...]). */
  layers: string[];
  /** Overrides on top of the preset (`params.preset`, default "default"). */
  params?: Partial<Omit<CircuitParams, "layers" | "backend">>;
}

export type CircuitStage = "load" | "patches" | "activations" | "layer" | "neuronGroups" | "done";

export interface CircuitProgress {
  stage: CircuitStage;
  /** Layer pair being worked on, "upper←lower". */
  layer?: string;
  /** Units done / total within the stage (targets within a layer, batches within activations). */
  done: number;
  total: number;
  /** Overall fraction 0..1 of the whole run (monotone). */
  fraction: number;
  message: string;
}

/** Everything needed to resume after the last finished layer pair. Plain JSON. */
export interface CircuitCheckpoint {
  /** Key of the run's inputs; a checkpoint from another request is rejected. */
  requestKey: string;
  /** Finished layer pairs, top first, with their targets and neuron groups (no group edges yet). */
  layers: CircuitLayer[];
}

export interface CircuitRunOptions {
  onProgress?: (p: CircuitProgress) => void;
  /** Called after each finished layer pair; awaited before the next starts. */
  onCheckpoint?: (c: CircuitCheckpoint) => void | Promise<void>;
  /** Resume from this checkpoint (ignored when its requestKey differs: a clear error). */
  resume?: CircuitCheckpoint;
  /** Cancels between targets; the promise rejects with an error named "AbortError". */
  signal?: AbortSignal;
}
