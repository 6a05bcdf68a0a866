/**
 * Where a circuit's heavy work runs — the activation pass, one batch per job, and per-target
 * attribution: in this thread, or spread over worker threads, each with its own model and backend
 * (wasm has no threads in Node, so this is how a CPU run uses every core).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { fillActivations, type ActivationBuffers } from "../activations";
import type { BackendName } from "../backend";
import type { ClassifierModel } from "../model/loadModel";
import type { Patch } from "../patches";
import { attributeTarget, type AttributionResult, type AttributionSettings, type AttributionTask, type LayerMaps } from "../targetAttribution";
import type { tf } from "../tf";
import type { WorkerReply, WorkerRequest } from "./protocol";

export interface AttributionRunner {
  readonly workers: number;
  run(task: AttributionTask): Promise<AttributionResult>;
  /** Writes the activations (and kept maps) of patches [from, to) into the shared buffers. */
  fillActivations(buffers: ActivationBuffers, from: number, to: number, batchSize: number): Promise<void>;
  /** Lower-layer maps the next tasks read their patches from (null: each task computes its own). */
  setMaps(maps: LayerMaps | null): void;
  close(): Promise<void>;
}

/** Runs tasks one after another, each in its own macrotask, so progress and cancellation get a turn. */
export function inProcessRunner(model: ClassifierModel, images: tf.Tensor4D, patches: readonly Patch[], settings: AttributionSettings): AttributionRunner {
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
    setMaps(m) {
      maps = m;
    },
    run: (task) => enqueue(() => attributeTarget(model.graph, images, patches, task, settings, maps)),
    fillActivations: (buffers, from, to, batchSize) => enqueue(() => fillActivations(model.graph, images, patches, buffers, from, to, batchSize)),
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
  resolve: (r: AttributionResult | undefined) => void;
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
  type Job = { type: "task"; task: AttributionTask } | { type: "activations"; buffers: ActivationBuffers; from: number; to: number; batchSize: number };
  const queue: { id: number; job: Job }[] = [];
  let nextId = 0;
  let failure: Error | null = null;

  const dispatch = () => {
    while (idle.length && queue.length) {
      const w = idle.pop()!;
      const { id, job } = queue.shift()!;
      const msg: WorkerRequest = { ...job, id };
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
          } else if (m.type === "result" || m.type === "filled") {
            const p = pending.get(m.id);
            pending.delete(m.id);
            idle.push(w);
            dispatch();
            p?.resolve(m.type === "result" ? m.result : undefined);
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

  const submit = (job: Job): Promise<AttributionResult | undefined> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      queue.push({ id, job });
      dispatch();
    });
  };

  return {
    workers: count,
    run(task) {
      return submit({ type: "task", task }) as Promise<AttributionResult>;
    },
    async fillActivations(buffers, from, to, batchSize) {
      await submit({ type: "activations", buffers, from, to, batchSize });
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
