/**
 * Loads a classifier from its manifest: the model file (ONNX or TF.js layers) as a TensorGraph,
 * its preprocessing, and its named layers. Checks at load time that every manifest layer names a
 * tensor of the graph and that one batch of zeros yields `classes.length` logits.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { tf } from "../tf";
import type { TensorGraph } from "./graph";
import { importLayers } from "./layers/importLayers";
import { parseManifest, readManifest, type Manifest } from "./manifest";
import { importOnnx } from "./onnx/importOnnx";

export interface ClassifierModel {
  readonly manifest: Manifest;
  readonly graph: TensorGraph;
  /** The graph tensor that receives the preprocessed [N, size, size, 3] batch. */
  readonly inputTensor: string;
  /** The graph tensor holding the logits, [N, classes]. */
  readonly logitsTensor: string;
  /** SHA-256 of the model file (hex), to tie results to the exact weights. */
  readonly checksum?: string;
  /** Path of the model file (an ONNX model can also run on onnxruntime). */
  readonly file?: string;
  /** The graph tensor of a manifest layer; throws for an unknown layer name. */
  layerTensor(name: string): string;
  /** Raw pixels [N, H, W, 3] in 0..scale → the model's normalised input, NHWC. */
  preprocess(images: tf.Tensor4D): tf.Tensor4D;
  dispose(): void;
}

export type ModelSource = string | { manifest: Manifest | unknown; dir: string };

function modelPath(dir: string, file: string, label: string): string {
  const full = resolve(dir, file);
  const rel = relative(resolve(dir), full);
  if (isAbsolute(file) || rel.startsWith("..") || isAbsolute(rel)) {
    throw new Error(`${label}: model file "${file}" must be inside the manifest's directory`);
  }
  return full;
}

export async function loadModel(source: ModelSource): Promise<ClassifierModel> {
  let manifest: Manifest;
  let dir: string;
  let label: string;
  if (typeof source === "string") {
    manifest = await readManifest(source);
    dir = dirname(source);
    label = `model ${source}`;
  } else {
    manifest = parseManifest(source.manifest);
    dir = source.dir;
    label = `model "${manifest.name}"`;
  }
  const file = modelPath(dir, manifest.file, label);
  let graph: TensorGraph;
  let checksum: string;
  if (manifest.format === "onnx") {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      throw new Error(`${label}: cannot read ${file}: ${(e as Error).message}`);
    }
    checksum = createHash("sha256").update(bytes).digest("hex");
    graph = importOnnx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      ...(manifest.input.name ? { inputName: manifest.input.name } : {}),
      inputLayout: manifest.input.layout,
      name: manifest.name,
    });
  } else {
    checksum = createHash("sha256")
      .update(await readFile(file).catch(() => Buffer.alloc(0)))
      .digest("hex");
    graph = await importLayers(file);
  }
  try {
    return checkedModel(manifest, graph, label, checksum, file);
  } catch (e) {
    graph.dispose();
    throw e;
  }
}

function checkedModel(
  manifest: Manifest,
  graph: TensorGraph,
  label: string,
  checksum: string,
  file: string,
): ClassifierModel {
  const logitsTensor = graph.outputNames[0];
  if (!logitsTensor) throw new Error(`${label}: the graph has no output`);
  const layers = new Map<string, string>();
  for (const l of manifest.layers) {
    if (!graph.hasTensor(l.tensor)) {
      throw new Error(`${label}: manifest layer "${l.name}" names tensor "${l.tensor}", which is not in the graph`);
    }
    layers.set(l.name, l.tensor);
  }
  const S = manifest.input.size;
  const classes = manifest.classes.length;
  const out = tf.tidy(() => {
    let y: tf.Tensor;
    try {
      y = graph.run({ [graph.inputName]: tf.zeros([1, S, S, 3]) }, [logitsTensor])[0]!;
    } catch (e) {
      throw new Error(`${label}: running a ${S}×${S} batch of zeros failed: ${(e as Error).message}`);
    }
    return y.shape;
  });
  if (out.length !== 2 || out[0] !== 1 || out[1] !== classes) {
    throw new Error(
      `${label}: the output "${logitsTensor}" has shape [${out.join(",")}] for one image; the manifest lists ${classes} classes, so [1,${classes}] was expected`,
    );
  }
  const { scale, mean, std } = manifest.input;
  // the same float32 operations, in the same order, as the usual (x / scale − mean) / std
  const meanT = tf.keep(tf.tensor1d(mean));
  const stdT = tf.keep(tf.tensor1d(std));
  let disposed = false;
  return {
    manifest,
    graph,
    inputTensor: graph.inputName,
    logitsTensor,
    checksum,
    file,
    layerTensor(name: string): string {
      const t = layers.get(name);
      if (t === undefined)
        throw new Error(`${label}: no layer "${name}" in the manifest (layers: ${[...layers.keys()].join(", ")})`);
      return t;
    },
    preprocess(images: tf.Tensor4D): tf.Tensor4D {
      if (images.rank !== 4 || images.shape[3] !== 3) {
        throw new Error(`${label}: preprocess expects images [N, H, W, 3], got [${images.shape.join(",")}]`);
      }
      return tf.tidy(() => tf.div(tf.sub(tf.div(tf.cast(images, "float32"), scale), meanT), stdT) as tf.Tensor4D);
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      meanT.dispose();
      stdT.dispose();
      graph.dispose();
    },
  };
}
