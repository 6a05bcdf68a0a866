/**
 * The circuit's heavy passes on onnxruntime: the activation pass and integrated gradients, for an
 * ONNX model on a CPU backend, where onnxruntime-node is installed. Everything else (patches,
 * completeness, clustering, the circuit) stays the engine's one code path; a layer pair whose slice
 * onnxruntime cannot differentiate runs on TensorFlow.js.
 */
import type { ActivationBuffers } from "../activations";
import type { BackendName } from "../backend";
import type { ClassifierModel } from "../model/loadModel";
import type { InProcessKernels } from "../parallel/attributionRunner";
import { patchPixels, type Patch } from "../patches";
import { tf } from "../tf";
import { OnnxRuntimeModel } from "./onnxRuntimeModel";
import { onnxRuntimeWanted } from "./runtime";

/**
 * Start tensors' elements per onnxruntime IG run (rows × row size): 16 MB of float32. The rows'
 * intermediates are a few times that; 2^24 held 1.0 GB peak on the toy world (50-node targets of
 * layer2.1 ← layer2.0) against 0.63 GB at 2^22, at the same speed (docs/engine.md).
 */
export const ONNXRUNTIME_ROW_ELEMENTS = 2 ** 22;
/**
 * The forward work a layer pair's targets share (onnxRuntimeModel's per-patch cache of the rows'
 * target-independent part), at most this many bytes; beyond it a target runs its whole model.
 */
export const ONNXRUNTIME_SHARED_FORWARD_BYTES = 2 ** 29;
/** Patches per onnxruntime activation run. */
export const ONNXRUNTIME_ACTIVATION_BATCH = 16;

/** Whether a run of this model on this backend uses onnxruntime for its heavy passes. */
export function onnxRuntimeApplies(model: ClassifierModel, backend: BackendName): boolean {
  return (
    onnxRuntimeWanted() &&
    model.manifest.format === "onnx" &&
    model.manifest.input.layout !== "NHWC" &&
    (backend === "wasm" || backend === "cpu") &&
    !!model.file
  );
}

/**
 * Kernels for an in-process runner on the model's onnxruntime sessions (OnnxRuntimeModel.open).
 * `ranks` maps each layer tensor to its rank (4 for a feature map, 2 for a dense layer). Closing the
 * runner leaves `ortModel` open: its owner closes it.
 */
export function onnxRuntimeKernels(
  model: ClassifierModel,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  ranks: ReadonlyMap<string, number>,
  ortModel: OnnxRuntimeModel,
): InProcessKernels {
  const S = model.manifest.input.size;
  // the images' values, read once: the patches are cut and resized here (patchPixels)
  let imagePixels: Float32Array | null = null;
  const pixelsOf = (idx: readonly number[]) => {
    imagePixels ??= images.dataSync() as Float32Array;
    return patchPixels(imagePixels, S, patches, idx);
  };
  return {
    activationBatch: ONNXRUNTIME_ACTIVATION_BATCH,
    async fillActivations(buffers: ActivationBuffers, from: number, to: number, batchSize: number) {
      const layers = buffers.layerTensors;
      const kept = buffers.keep.map((t) => layers.indexOf(t));
      const extra = buffers.keep.filter((t) => !layers.includes(t));
      if (extra.length) throw new Error(`kept maps of a layer that is not a circuit layer: ${extra.join(", ")}`);
      for (let first = from; first < to; first += batchSize) {
        const idx = Array.from({ length: Math.min(batchSize, to - first) }, (_, i) => first + i);
        const out = await ortModel.activations(
          pixelsOf(idx),
          [idx.length, S, S, 3],
          layers,
          layers.map((t) => ranks.get(t)!),
          kept,
        );
        buffers.activations.forEach((a, li) => a.means.set(out.means[li]!, first * a.channels));
        buffers.maps.forEach((m, k) => m.data.set(out.maps[k]!, first * (m.data.length / patches.length)));
      }
    },
    async layerMaps(indices, layerTensor) {
      const rank = ranks.get(layerTensor);
      if (rank === undefined) throw new Error(`maps of "${layerTensor}", which is not a circuit layer`);
      const parts: Float32Array[] = [];
      let rowShape: number[] = [];
      for (let i = 0; i < indices.length; i += ONNXRUNTIME_ACTIVATION_BATCH) {
        const idx = indices.slice(i, i + ONNXRUNTIME_ACTIVATION_BATCH);
        const out = await ortModel.activations(pixelsOf(idx), [idx.length, S, S, 3], [layerTensor], [rank], [0]);
        parts.push(out.maps[0]!);
        rowShape = out.mapShapes[0]!;
      }
      // a pair's maps are read once: its session (the network up to the layer) is not kept
      await ortModel.releaseActivationSessions();
      const size = rowShape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(indices.length * size);
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.length;
      }
      return tf.tensor(data, [indices.length, ...rowShape]);
    },
    async ig(task, x, rule) {
      // a circuit goes pair by pair: the sessions of finished pairs hold memory for nothing
      ortModel.releaseOtherPairs(task.lowerTensor);
      const data = (await x.data()) as Float32Array;
      return ortModel.integratedGradients(
        task.lowerTensor,
        task.upperTensor,
        task.target,
        data,
        x.shape,
        rule,
        ONNXRUNTIME_ROW_ELEMENTS,
        // the maps are the task's top patches in order (a subset of them is not: no sharing there)
        x.shape[0] === task.topPatches.length
          ? { patchIds: task.topPatches, budgetBytes: ONNXRUNTIME_SHARED_FORWARD_BYTES }
          : undefined,
      );
    },
  };
}
