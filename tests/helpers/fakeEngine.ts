/**
 * A stand-in for the engine's buildCircuit: same contract (progress, a checkpoint after each layer
 * pair, resume, AbortSignal), a deterministic result that does not depend on interruptions.
 * Optional: a delay per layer, and a file that records which layer pairs were computed by whom.
 */
import { appendFileSync } from "node:fs";
import type { Circuit, CircuitLayer } from "~/server/neurflow/light";
import type { CircuitCheckpoint, CircuitRequest, CircuitRunOptions } from "~/server/neurflow/light";
import type { CircuitEngine } from "~/server/jobs/engine";
import {
  syntheticCircuit,
  syntheticGroupEdges,
  syntheticLayer,
  syntheticPatches,
  withDefaults,
} from "./syntheticCircuit";

export interface FakeEngineOptions {
  layerDelayMs?: number;
  /** Appends "<pid> <layer index>\n" for every layer pair computed. */
  traceFile?: string;
  /** Throws this error at the given layer index (once per engine instance). */
  failAt?: { layer: number; error: Error };
}

const abortError = () => Object.assign(new Error("canceled"), { name: "AbortError" });

function classesOf(req: CircuitRequest): string[] {
  return ["bee", "ladybug", "fish", "sun", "tree", "car"].includes(req.className)
    ? ["bee", "ladybug", "fish", "sun", "tree", "car"]
    : [req.className, "other"];
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function fakeEngine(opts: FakeEngineOptions = {}): CircuitEngine {
  let failed = false;
  return async (req: CircuitRequest, run: CircuitRunOptions): Promise<Circuit> => {
    const o = withDefaults({
      layers: req.layers,
      classes: classesOf(req),
      className: req.className,
      tau: req.params?.tau ?? 3,
      k: req.params?.k ?? 8,
    });
    const requestKey = JSON.stringify([req.layers, req.className, req.params ?? {}]);
    const patches = syntheticPatches(o.images);
    const pairs = req.layers.length - 1;
    let resume: CircuitCheckpoint | undefined = run.resume;
    if (resume && resume.requestKey !== requestKey) throw new Error("checkpoint from another request");
    const layers: CircuitLayer[] = resume ? [...resume.layers] : [];
    run.onProgress?.({ stage: "load", done: 0, total: 1, fraction: layers.length / pairs, message: "loading" });
    let targets = layers.length
      ? [...new Set(layers.at(-1)!.targets.flatMap((t) => t.coreNeurons))].sort((a, b) => a - b)
      : [o.classes.indexOf(o.className)];
    for (let li = layers.length; li < pairs; li++) {
      if (run.signal?.aborted) throw abortError();
      const steps = 4;
      for (let s = 0; s < steps; s++) {
        await sleep((opts.layerDelayMs ?? 0) / steps, run.signal);
        run.onProgress?.({
          stage: "layer",
          layer: `${req.layers[li]}←${req.layers[li + 1]}`,
          done: s + 1,
          total: steps,
          fraction: (li + (s + 1) / steps) / pairs,
          message: `layer ${li + 1}/${pairs}`,
        });
      }
      if (opts.failAt && opts.failAt.layer === li && !failed) {
        failed = true;
        throw opts.failAt.error;
      }
      const layer = syntheticLayer(o, li, targets, patches.length);
      if (opts.traceFile) appendFileSync(opts.traceFile, `${process.pid} ${li}\n`);
      layers.push(layer);
      targets = [...new Set(layer.targets.flatMap((t) => t.coreNeurons))].sort((a, b) => a - b);
      resume = { requestKey, layers: structuredClone(layers) };
      await run.onCheckpoint?.(resume);
    }
    const done = layers.map((l, i) => ({ ...l, groupEdges: syntheticGroupEdges(o.seed, l, layers[i + 1]) }));
    run.onProgress?.({ stage: "done", done: 1, total: 1, fraction: 1, message: "done" });
    const base = syntheticCircuit({
      layers: req.layers,
      classes: o.classes,
      className: req.className,
      tau: o.tau,
      k: o.k,
      optionals: false,
    });
    return { ...base, layers: done };
  };
}
