/**
 * A circuit worker: its own backend and model; fills the activation batches and computes IG for
 * the targets it is sent.
 */
import { fillActivations } from "../activations";
import { parentPort } from "node:worker_threads";
import { initBackend } from "../backend";
import { loadModel, type ClassifierModel } from "../model/loadModel";
import type { Patch } from "../patches";
import { attributeTarget, type AttributionSettings, type LayerMaps } from "../targetAttribution";
import { tf } from "../tf";
import type { WorkerReply, WorkerRequest } from "./protocol";

const port = parentPort!;
let model: ClassifierModel | null = null;
let images: tf.Tensor4D | null = null;
let patches: Patch[] = [];
let settings: AttributionSettings | null = null;
let maps: LayerMaps | null = null;

const reply = (m: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on("message", async (m: WorkerRequest) => {
  if (m.type === "init") {
    try {
      await initBackend(m.backend);
      model = await loadModel(m.manifestPath);
      images = tf.tensor4d(m.pixels, m.shape);
      patches = m.patches;
      settings = { rules: m.rules, tolerance: m.tolerance, ...(m.igRowElements ? { igRowElements: m.igRowElements } : {}) };
      reply({ type: "ready" });
    } catch (e) {
      reply({ type: "error", message: `attribution worker failed to start: ${(e as Error).message}` });
    }
    return;
  }
  if (m.type === "maps") {
    maps = m.maps;
    return;
  }
  if (m.type === "activations") {
    try {
      await fillActivations(model!.graph, images!, patches, m.buffers, m.from, m.to, m.batchSize);
      reply({ type: "filled", id: m.id });
    } catch (e) {
      reply({ type: "error", id: m.id, message: (e as Error).message });
    }
    return;
  }
  try {
    const r = await attributeTarget(model!.graph, images!, patches, m.task, settings!, maps);
    reply({ type: "result", id: m.id, result: r }, [
      r.perPatch.buffer as ArrayBuffer,
      r.totals.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    reply({ type: "error", id: m.id, message: (e as Error).message });
  }
});
