/**
 * Where the evaluations' knockouts run: in this thread, or spread over worker threads that each
 * hold the same knockout slice and measure blocks of sets (results in the order asked, equal to
 * in-process ones). The optimality and weight-fidelity evaluations spend nearly all their time
 * here, so on a CPU this is what makes them use every core.
 */
import { initBackend } from "../backend";
import { outputShapes } from "../activations";
import type { ClassifierModel, ModelSource } from "../model/loadModel";
import { startWorkerPool, defaultWorkerCount, type WorkerPool } from "../parallel/workerPool";
import type { Patch } from "../patches";
import type { tf } from "../tf";
import { disposeSlice, knockoutRetentions, knockoutSlice, type KnockoutSlice } from "./knockout";

export interface KnockoutRunner {
  readonly workers: number;
  /** Prepares the knockout slice of a layer pair (the last one is released); returns the lower layer's width. */
  open(lowerLayer: string, upperLayer: string, batchSize?: number): Promise<number>;
  /** The target's unmasked top-k patches, then the retention of each set, in order. */
  retentions(
    target: number,
    k: number,
    sets: readonly (readonly number[])[],
    onSet?: (done: number, total: number) => void,
  ): Promise<{ top: number[]; retention: Float64Array }>;
  close(): Promise<void>;
}

export interface KnockoutData {
  model: ClassifierModel;
  images: tf.Tensor4D;
  patches: readonly Patch[];
  /** Where the model came from: needed for worker threads, which load their own copy. */
  source?: ModelSource;
}

/** Worker threads when the backend wants them (NEURFLOW_WORKERS overrides) and the model can be loaded again. */
export async function knockoutRunner(data: KnockoutData, workers?: number): Promise<KnockoutRunner> {
  const backend = await initBackend();
  const count = workers ?? defaultWorkerCount(backend.name);
  if (count <= 1 || !data.source) return inProcessKnockouts(data);
  const pool = await startWorkerPool(count, {
    model: data.source,
    backend: backend.name,
    pixels: (await data.images.data()) as Float32Array,
    shape: data.images.shape,
    patches: data.patches as Patch[],
  });
  return poolKnockouts(data, pool);
}

/** Runs `f` with a knockout runner for the data (worker threads where they pay), then closes it. */
export async function withKnockouts<T>(data: KnockoutData, f: (runner: KnockoutRunner) => Promise<T>, workers?: number): Promise<T> {
  const runner = await knockoutRunner(data, workers);
  try {
    return await f(runner);
  } finally {
    await runner.close();
  }
}

export function inProcessKnockouts(data: KnockoutData): KnockoutRunner {
  let slice: KnockoutSlice | null = null;
  const release = () => {
    if (slice) disposeSlice(slice);
    slice = null;
  };
  return {
    workers: 0,
    async open(lower, upper, batchSize) {
      release();
      slice = knockoutSlice(data.model, data.images, data.patches, lower, upper, batchSize);
      return slice.channels;
    },
    async retentions(target, k, sets, onSet) {
      if (!slice) throw new Error("no knockout slice is open");
      return knockoutRetentions(slice, target, k, sets, onSet);
    },
    async close() {
      release();
    },
  };
}

function poolKnockouts(data: KnockoutData, pool: WorkerPool): KnockoutRunner {
  let open = false;
  return {
    workers: pool.size,
    async open(lower, upper, batchSize) {
      open = false;
      await pool.broadcast({ type: "knockoutSlice", lower, upper, ...(batchSize ? { batchSize } : {}) });
      open = true;
      const shape = outputShapes(data.model.graph, data.images, data.patches, [data.model.layerTensor(lower)])[0]!;
      return shape[shape.length - 1]!;
    },
    async retentions(target, k, sets, onSet) {
      if (!open) throw new Error("no knockout slice is open");
      const top = (await pool.submit({ type: "knockoutTop", target, k })) as number[];
      // blocks small enough to share the sets out evenly and report progress, large enough to
      // keep the messages few
      const block = Math.max(1, Math.min(16, Math.ceil(sets.length / (pool.size * 4))));
      const retention = new Float64Array(sets.length);
      let done = 0;
      const jobs: Promise<void>[] = [];
      for (let from = 0; from < sets.length; from += block) {
        const part = sets.slice(from, from + block).map((s) => [...s]);
        jobs.push(
          pool.submit({ type: "knockouts", target, top, sets: part }).then((r) => {
            retention.set(r as Float64Array, from);
            done += part.length;
            onSet?.(done, sets.length);
          }),
        );
      }
      jobs.forEach((j) => j.catch(() => undefined));
      for (const j of jobs) await j;
      return { top, retention };
    },
    close: () => pool.close(),
  };
}
