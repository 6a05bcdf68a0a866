/**
 * Where per-target attribution runs: in this thread, or spread over worker threads, each with its
 * own model and backend (wasm has no threads in Node, so this is how a CPU run uses every core).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { BackendName } from "../backend";
import type { ClassifierModel } from "../model/loadModel";
import type { Patch } from "../patches";
import { attributeTarget, type AttributionResult, type AttributionSettings, type AttributionTask, type LayerMaps } from "../targetAttribution";
import type { tf } from "../tf";
import type { WorkerReply, WorkerRequest } from "./protocol";

export interface AttributionRunner {
  readonly workers: number;
  run(task: AttributionTask): Promise<AttributionResult>;
  /** Lower-layer maps the next tasks read their patches from (null: each task computes its own). */
  setMaps(maps: LayerMaps | null): void;
  close(): Promise<void>;
}

/** Runs tasks one after another, each in its own macrotask, so progress and cancellation get a turn. */
export function inProcessRunner(model: ClassifierModel, images: tf.Tensor4D, patches: readonly Patch[], settings: AttributionSettings): AttributionRunner {
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;
  let maps: LayerMaps | null = null;
  return {
    workers: 0,
    setMaps(m) {
      maps = m;
    },
    run(task) {
      const next = chain.then(
        () =>
          new Promise<AttributionResult>((resolve, reject) =>
            setImmediate(() => {
              if (closed) return reject(new Error("the attribution runner is closed"));
              try {
                attributeTarget(model.graph, images, patches, task, settings, maps).then(resolve, reject);
              } catch (e) {
                reject(e as Error);
              }
            }),
          ),
      );
      chain = next.catch(() => undefined);
      return next;
    },
    async close() {
      closed = true;
      await chain;
    },
  };
}

/**
 * How many worker threads a run uses: NEURFLOW_WORKERS if set; otherwise one per core (at most 8)
 * on the CPU backends that cannot use more than one core themselves (wasm, cpu), none elsewhere.
 */
export function defaultWorkerCount(backend: BackendName, env = process.env.NEURFLOW_WORKERS): number {
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 64) throw new Error(`NEURFLOW_WORKERS must be an integer 0..64, got "${env}"`);
    return n <= 1 ? 0 : n;
  }
  if (backend !== "wasm" && backend !== "cpu") return 0;
  const cores = availableParallelism();
  return cores >= 2 ? Math.min(cores, 8) : 0;
}

interface Pending {
  resolve: (r: AttributionResult) => void;
  reject: (e: Error) => void;
}

export async function workerPoolRunner(
  count: number,
  init: { manifestPath: string; backend: BackendName; pixels: Float32Array; shape: [number, number, number, number]; patches: readonly Patch[] },
  settings: AttributionSettings,
): Promise<AttributionRunner> {
  const entry = new URL("./attributionWorker.mjs", import.meta.url);
  const workers: Worker[] = [];
  const pending = new Map<number, Pending>();
  const idle: Worker[] = [];
  const queue: { id: number; task: AttributionTask }[] = [];
  let nextId = 0;
  let failure: Error | null = null;

  const dispatch = () => {
    while (idle.length && queue.length) {
      const w = idle.pop()!;
      const job = queue.shift()!;
      const msg: WorkerRequest = { type: "task", id: job.id, task: job.task };
      w.postMessage(msg);
    }
  };
  const failAll = (e: Error) => {
    failure ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };

  await Promise.all(
    Array.from({ length: count }, () => {
      const w = new Worker(entry, { workerData: null });
      workers.push(w);
      return new Promise<void>((resolve, reject) => {
        const onMessage = (m: WorkerReply) => {
          if (m.type === "ready") {
            idle.push(w);
            resolve();
            dispatch();
          } else if (m.type === "result") {
            const p = pending.get(m.id);
            pending.delete(m.id);
            idle.push(w);
            dispatch();
            p?.resolve(m.result);
          } else if (m.type === "error") {
            const e = new Error(m.message);
            if (m.id === undefined) {
              reject(e);
              failAll(e);
            } else {
              const p = pending.get(m.id);
              pending.delete(m.id);
              idle.push(w);
              dispatch();
              p?.reject(e);
            }
          }
        };
        w.on("message", onMessage);
        w.on("error", (e) => {
          reject(e);
          failAll(e instanceof Error ? e : new Error(String(e)));
        });
        w.on("exit", (code) => {
          if (code !== 0) failAll(new Error(`an attribution worker stopped (exit code ${code})`));
        });
        const init0: WorkerRequest = {
          type: "init",
          manifestPath: init.manifestPath,
          backend: init.backend,
          pixels: init.pixels,
          shape: init.shape,
          patches: init.patches as Patch[],
          rules: settings.rules.map((r) => ({ alphas: r.alphas, weights: r.weights })),
          tolerance: settings.tolerance,
          ...(settings.igRowElements ? { igRowElements: settings.igRowElements } : {}),
        };
        w.postMessage(init0);
      });
    }),
  ).catch(async (e) => {
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  });

  return {
    workers: count,
    run(task) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<AttributionResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        queue.push({ id, task });
        dispatch();
      });
    },
    setMaps(maps) {
      const msg: WorkerRequest = { type: "maps", maps };
      for (const w of workers) w.postMessage(msg);
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
