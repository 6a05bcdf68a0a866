/**
 * A pool of engine worker threads, each with its own backend, model, images and patches (wasm has
 * no threads in Node, so this is how a CPU run uses every core). Jobs go to whichever worker is
 * idle; broadcasts (state every worker must hold alike) go to all of them once no job is running.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { BackendName } from "../backend";
import type { WorkerBroadcast, WorkerInit, WorkerJob, WorkerReply, WorkerRequest, WorkerValue } from "./protocol";

export interface WorkerPool {
  readonly size: number;
  /** To whichever worker is idle first. */
  submit(job: WorkerJob): Promise<WorkerValue>;
  /** To worker `index` (0 … size − 1), which received `index` at start. */
  submitTo(index: number, job: WorkerJob): Promise<WorkerValue>;
  broadcast(message: WorkerBroadcast): Promise<void>;
  close(): Promise<void>;
}

/**
 * How many worker threads a run uses: NEURFLOW_WORKERS if set; otherwise one per core (at most 8)
 * on the CPU backends that cannot use more than one core themselves (wasm, cpu), none elsewhere.
 */
export function defaultWorkerCount(backend: BackendName, env = process.env.NEURFLOW_WORKERS): number {
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 64)
      throw new Error(`NEURFLOW_WORKERS must be an integer 0..64, got "${env}"`);
    return n <= 1 ? 0 : n;
  }
  if (backend !== "wasm" && backend !== "cpu") return 0;
  const cores = availableParallelism();
  return cores >= 2 ? Math.min(cores, 8) : 0;
}

interface Pending {
  resolve: (v: WorkerValue) => void;
  reject: (e: Error) => void;
}

export async function startWorkerPool(count: number, init: WorkerInit): Promise<WorkerPool> {
  const entry = new URL("./engineWorker.mjs", import.meta.url);
  const workers: Worker[] = [];
  const pending = new Map<number, Pending>();
  const idle: Worker[] = [];
  const queue: { id: number; job: WorkerJob }[] = [];
  /** Jobs for one worker, by worker. */
  const own = new Map<Worker, { id: number; job: WorkerJob }[]>();
  /** Broadcast id → workers yet to answer. */
  const broadcasts = new Map<number, { left: number; resolve: () => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | null = null;

  const dispatch = () => {
    for (let i = idle.length - 1; i >= 0; i--) {
      const w = idle[i]!;
      const next = own.get(w)?.shift() ?? queue.shift();
      if (!next) continue;
      idle.splice(i, 1);
      const msg: WorkerRequest = { ...next.job, id: next.id };
      w.postMessage(msg);
    }
  };
  const failAll = (e: Error) => {
    failure ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
    for (const b of broadcasts.values()) b.reject(e);
    broadcasts.clear();
  };
  const settle = (w: Worker, id: number, outcome: { value: WorkerValue } | { error: Error }) => {
    const b = broadcasts.get(id);
    if (b) {
      if ("error" in outcome) {
        broadcasts.delete(id);
        b.reject(outcome.error);
      } else if (--b.left === 0) {
        broadcasts.delete(id);
        b.resolve();
      }
      return;
    }
    const p = pending.get(id);
    pending.delete(id);
    idle.push(w);
    dispatch();
    if ("error" in outcome) p?.reject(outcome.error);
    else p?.resolve(outcome.value);
  };

  await Promise.all(
    Array.from({ length: count }, (_, index) => {
      const w = new Worker(entry, { workerData: null });
      workers.push(w);
      own.set(w, []);
      return new Promise<void>((resolve, reject) => {
        w.on("message", (m: WorkerReply) => {
          if (m.type === "ready") {
            idle.push(w);
            resolve();
            dispatch();
          } else if (m.type === "done") {
            settle(w, m.id, { value: m.value });
          } else if (m.id === undefined) {
            const e = new Error(m.message);
            reject(e);
            failAll(e);
          } else {
            settle(w, m.id, { error: new Error(m.message) });
          }
        });
        w.on("error", (e) => {
          reject(e);
          failAll(e instanceof Error ? e : new Error(String(e)));
        });
        w.on("exit", (code) => {
          if (code !== 0) failAll(new Error(`an engine worker stopped (exit code ${code})`));
        });
        const msg: WorkerRequest = { type: "init", ...init, index };
        w.postMessage(msg);
      });
    }),
  ).catch(async (e) => {
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  });

  const enqueue = (into: { id: number; job: WorkerJob }[], job: WorkerJob): Promise<WorkerValue> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      into.push({ id, job });
      dispatch();
    });
  };

  return {
    size: count,
    submit: (job) => enqueue(queue, job),
    submitTo(index, job) {
      const w = workers[index];
      return w ? enqueue(own.get(w)!, job) : Promise.reject(new Error(`the pool has no worker ${index}`));
    },
    broadcast(message) {
      if (failure) return Promise.reject(failure);
      if (pending.size > 0) return Promise.reject(new Error("cannot broadcast to the workers while jobs are running"));
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        broadcasts.set(id, { left: workers.length, resolve, reject });
        const msg: WorkerRequest = { ...message, id };
        for (const w of workers) w.postMessage(msg);
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
