/**
 * Where the evaluations' knockouts run: in this thread, or spread over worker threads that each
 * hold the knockout slice of a share of the patches (results equal to in-process ones). The optimality and weight-fidelity evaluations spend nearly all their time
 * here, so on a CPU this is what makes them use every core.
 */
import { initBackend } from "../backend";
import { outputShapes } from "../activations";
import type { ClassifierModel, ModelSource } from "../model/loadModel";
import { startWorkerPool, defaultWorkerCount, type WorkerPool } from "../parallel/workerPool";
import type { Patch } from "../patches";
import type { tf } from "../tf";
import { topIndices } from "../coreNeurons";
import { disposeSlice, knockoutRetentions, knockoutSlice, topKRetention, type KnockoutSlice } from "./knockout";

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

/**
 * Worker threads when the backend wants them (NEURFLOW_WORKERS overrides), the model can be loaded
 * again and there are patches enough to share out.
 */
export async function knockoutRunner(data: KnockoutData, workers?: number): Promise<KnockoutRunner> {
  const backend = await initBackend();
  const count = workers ?? defaultWorkerCount(backend.name);
  // every worker holds a share of the patches: a few each at least
  if (count <= 1 || !data.source || data.patches.length < count * 4) return inProcessKnockouts(data);
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
export async function withKnockouts<T>(
  data: KnockoutData,
  f: (runner: KnockoutRunner) => Promise<T>,
  workers?: number,
): Promise<T> {
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

/**
 * Each worker holds the knockout slice of its share of the patches (so the pool holds the lower maps
 * once, as one thread would); every set goes to all of them, and the shares of the target's
 * activation are put back together here.
 */
function poolKnockouts(data: KnockoutData, pool: WorkerPool): KnockoutRunner {
  const P = data.patches.length;
  const shares = Array.from(
    { length: pool.size },
    (_, i) => [Math.floor((i * P) / pool.size), Math.floor(((i + 1) * P) / pool.size)] as [number, number],
  );
  let open = false;
  /** The target's activation on every patch, for each set. */
  const activations = async (target: number, sets: readonly (readonly number[])[]): Promise<Float32Array[]> => {
    const parts = await Promise.all(
      shares.map(
        (_, i) =>
          pool.submitTo(i, { type: "knockouts", target, sets: sets.map((x) => [...x]) }) as Promise<Float32Array>,
      ),
    );
    return sets.map((_, j) => {
      const full = new Float32Array(P);
      shares.forEach(([from, to], i) => full.set(parts[i]!.subarray(j * (to - from), (j + 1) * (to - from)), from));
      return full;
    });
  };
  return {
    workers: pool.size,
    async open(lower, upper, batchSize) {
      open = false;
      await pool.broadcast({ type: "knockoutSlice", lower, upper, shares, ...(batchSize ? { batchSize } : {}) });
      open = true;
      const shape = outputShapes(data.model.graph, data.images, data.patches, [data.model.layerTensor(lower)])[0]!;
      return shape[shape.length - 1]!;
    },
    async retentions(target, k, sets, onSet) {
      if (!open) throw new Error("no knockout slice is open");
      const base = (await activations(target, [[]]))[0]!;
      const top = topIndices(base, Math.min(k, base.length));
      // a few sets per message: few messages, and progress as they come
      const block = Math.max(1, Math.min(8, Math.ceil(sets.length / 16)));
      const retention = new Float64Array(sets.length);
      // all blocks queued at once (each worker takes its own in order), collected in order
      const jobs: Promise<void>[] = [];
      for (let from = 0; from < sets.length; from += block) {
        jobs.push(
          activations(target, sets.slice(from, from + block)).then((acts) =>
            acts.forEach((a, j) => (retention[from + j] = topKRetention(top, a))),
          ),
        );
      }
      jobs.forEach((j) => j.catch(() => undefined));
      for (const [b, j] of jobs.entries()) {
        await j;
        onSet?.(Math.min(sets.length, (b + 1) * block), sets.length);
      }
      return { top, retention };
    },
    close: () => pool.close(),
  };
}
