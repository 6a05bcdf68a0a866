/**
 * An engine worker: its own backend, model, images and patches. For a circuit run it fills
 * activation batches and computes IG for the targets it is sent; for the evaluations it holds the
 * knockout slice of a layer pair for its share of the patches and measures the target's activation
 * there with each set it is sent knocked out.
 */
import { parentPort } from "node:worker_threads";
import { fillActivations } from "../activations";
import { initBackend } from "../backend";
import { disposeSlice, knockoutActivations, knockoutSlice, type KnockoutSlice } from "../evaluations/knockout";
import { loadModel, type ClassifierModel } from "../model/loadModel";
import type { Patch } from "../patches";
import { attributeTarget, type AttributionSettings, type LayerMaps } from "../targetAttribution";
import { tf } from "../tf";
import type { WorkerReply, WorkerRequest, WorkerValue } from "./protocol";

const port = parentPort!;
let model: ClassifierModel | null = null;
let images: tf.Tensor4D | null = null;
let patches: Patch[] = [];
let settings: AttributionSettings | null = null;
let maps: LayerMaps | null = null;
let slice: KnockoutSlice | null = null;
let index = 0;

const reply = (m: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function handle(m: Exclude<WorkerRequest, { type: "init" }>): Promise<[WorkerValue, ArrayBuffer[]]> {
  switch (m.type) {
    case "maps":
      maps = m.maps;
      return [null, []];
    case "knockoutSlice": {
      if (slice) disposeSlice(slice);
      slice = null;
      const [from, to] = m.shares[index] ?? [0, 0];
      slice = knockoutSlice(model!, images!, patches.slice(from, to), m.lower, m.upper, m.batchSize);
      return [null, []];
    }
    case "activations":
      await fillActivations(model!.graph, images!, patches, m.buffers, m.from, m.to, m.batchSize);
      return [null, []];
    case "knockouts": {
      // the target's activation on this worker's patches, set after set
      const n = slice!.patchCount;
      const out = new Float32Array(m.sets.length * n);
      for (const [i, set] of m.sets.entries()) out.set(await knockoutActivations(slice!, m.target, set), i * n);
      return [out, [out.buffer as ArrayBuffer]];
    }
    case "task": {
      if (!settings) throw new Error("this worker was started without integrated-gradients settings");
      const r = await attributeTarget(model!.graph, images!, patches, m.task, settings, maps);
      return [r, [r.perPatch.buffer as ArrayBuffer, r.totals.buffer as ArrayBuffer]];
    }
  }
}

port.on("message", async (m: WorkerRequest) => {
  if (m.type === "init") {
    try {
      await initBackend(m.backend);
      model = await loadModel(m.model);
      images = tf.tensor4d(m.pixels, m.shape);
      patches = m.patches;
      index = m.index ?? 0;
      settings =
        m.rules && m.tolerance !== undefined
          ? {
              rules: m.rules,
              tolerance: m.tolerance,
              ...(m.decision ? { decision: m.decision } : {}),
              ...(m.igRowElements ? { igRowElements: m.igRowElements } : {}),
            }
          : null;
      reply({ type: "ready" });
    } catch (e) {
      reply({ type: "error", message: `engine worker failed to start: ${(e as Error).message}` });
    }
    return;
  }
  try {
    const [value, transfer] = await handle(m);
    reply({ type: "done", id: m.id, value }, transfer);
  } catch (e) {
    reply({ type: "error", id: m.id, message: (e as Error).message });
  }
});
