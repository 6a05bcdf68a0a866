/**
 * Where a circuit's heavy work runs — the activation pass, one batch per job, and per-target
 * attribution: in this thread, or spread over worker threads, each with its own model and backend
 * (wasm has no threads in Node, so this is how a CPU run uses every core).
 */
import { fillActivations, type ActivationBuffers } from "../activations";
import type { BackendName } from "../backend";
import type { ClassifierModel } from "../model/loadModel";
import type { Patch } from "../patches";
import {
  attributeTarget,
  type AttributionResult,
  type AttributionSettings,
  type AttributionTask,
  type AttributionKernels,
  type LayerMaps,
} from "../targetAttribution";
import type { tf } from "../tf";
import { startWorkerPool } from "./workerPool";

export interface AttributionRunner {
  readonly workers: number;
  run(task: AttributionTask): Promise<AttributionResult>;
  /** Writes the activations (and kept maps) of patches [from, to) into the shared buffers. */
  fillActivations(buffers: ActivationBuffers, from: number, to: number, batchSize: number): Promise<void>;
  /** Lower-layer maps the next tasks read their patches from (null: each task computes its own). */
  setMaps(maps: LayerMaps | null): Promise<void>;
  close(): Promise<void>;
}

/** How an in-process runner does its work where another kernel library takes part (onnxruntime). */
export interface InProcessKernels extends AttributionKernels {
  fillActivations?: (buffers: ActivationBuffers, from: number, to: number, batchSize: number) => Promise<void>;
  close?: () => Promise<void>;
  /** Patches per activation batch (default: the caller's). */
  activationBatch?: number;
}

/** Runs tasks one after another, each in its own macrotask, so progress and cancellation get a turn. */
export function inProcessRunner(
  model: ClassifierModel,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  settings: AttributionSettings,
  kernels: InProcessKernels = {},
): AttributionRunner {
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;
  let maps: LayerMaps | null = null;
  const enqueue = <T>(work: () => Promise<T>): Promise<T> => {
    const next = chain.then(
      () =>
        new Promise<T>((resolve, reject) =>
          setImmediate(() => {
            if (closed) return reject(new Error("the attribution runner is closed"));
            try {
              work().then(resolve, reject);
            } catch (e) {
              reject(e as Error);
            }
          }),
        ),
    );
    chain = next.catch(() => undefined);
    return next;
  };
  return {
    workers: 0,
    async setMaps(m) {
      maps = m;
    },
    run: (task) => enqueue(() => attributeTarget(model.graph, images, patches, task, settings, maps, kernels)),
    fillActivations: (buffers, from, to, batchSize) =>
      enqueue(() =>
        kernels.fillActivations
          ? kernels.fillActivations(buffers, from, to, batchSize)
          : fillActivations(model.graph, images, patches, buffers, from, to, batchSize),
      ),
    async close() {
      closed = true;
      await chain.catch(() => undefined);
      await kernels.close?.();
    },
  };
}

export { defaultWorkerCount } from "./workerPool";

/** The circuit's work on a pool of worker threads (see workerPool.ts). */
export async function workerPoolRunner(
  count: number,
  init: {
    manifestPath: string;
    backend: BackendName;
    pixels: Float32Array;
    shape: [number, number, number, number];
    patches: readonly Patch[];
  },
  settings: AttributionSettings,
): Promise<AttributionRunner> {
  const pool = await startWorkerPool(count, {
    model: init.manifestPath,
    backend: init.backend,
    pixels: init.pixels,
    shape: init.shape,
    patches: init.patches as Patch[],
    rules: settings.rules.map((r) => ({
      alphas: r.alphas,
      weights: r.weights,
      ...(r.embedded ? { embedded: r.embedded } : {}),
    })),
    tolerance: settings.tolerance,
    ...(settings.decision ? { decision: settings.decision } : {}),
    ...(settings.igRowElements ? { igRowElements: settings.igRowElements } : {}),
  });
  return {
    workers: count,
    run: async (task) => (await pool.submit({ type: "task", task })) as AttributionResult,
    async fillActivations(buffers, from, to, batchSize) {
      await pool.submit({ type: "activations", buffers, from, to, batchSize });
    },
    setMaps: (maps) => pool.broadcast({ type: "maps", maps }),
    close: () => pool.close(),
  };
}
