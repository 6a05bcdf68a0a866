/**
 * A tf.io.IOHandler for TF.js layers models on the local disk (model.json + weight shards), using
 * node:fs, so loading and saving need no @tensorflow/tfjs-node. Shard paths must stay inside the
 * model's directory.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, isAbsolute } from "node:path";
import { tf } from "../../tf";

interface ModelJson {
  modelTopology?: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  trainingConfig?: tf.io.TrainingConfig;
  userDefinedMetadata?: Record<string, unknown>;
  modelInitializer?: unknown;
}

function insideDir(dir: string, path: string): string {
  const full = resolve(dir, path);
  const rel = relative(dir, full);
  if (isAbsolute(path) || rel.startsWith("..") || isAbsolute(rel)) {
    throw new Error(`weight file "${path}" is outside the model's directory`);
  }
  return full;
}

/** Loads `modelJsonPath` (and the shards it lists) or saves a model there (one `weights.bin`). */
export function fileIOHandler(modelJsonPath: string): tf.io.IOHandler {
  const dir = dirname(resolve(modelJsonPath));
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      let text: string;
      try {
        text = await readFile(modelJsonPath, "utf8");
      } catch (e) {
        throw new Error(`cannot read TF.js model ${modelJsonPath}: ${(e as Error).message}`);
      }
      let json: ModelJson;
      try {
        json = JSON.parse(text) as ModelJson;
      } catch (e) {
        throw new Error(`TF.js model ${modelJsonPath} is not JSON: ${(e as Error).message}`);
      }
      if (typeof json !== "object" || json === null || !json.modelTopology) {
        throw new Error(`TF.js model ${modelJsonPath} has no modelTopology`);
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          let b: Buffer;
          try {
            b = await readFile(insideDir(dir, p));
          } catch (e) {
            throw new Error(`TF.js model ${modelJsonPath}: cannot read weight file "${p}": ${(e as Error).message}`);
          }
          buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        }
      }
      const artifacts: tf.io.ModelArtifacts = {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts["modelTopology"],
        weightSpecs: specs,
        weightData: tf.io.concatenateArrayBuffers(buffers),
      };
      if (json.format) artifacts.format = json.format;
      if (json.generatedBy) artifacts.generatedBy = json.generatedBy;
      if (json.convertedBy) artifacts.convertedBy = json.convertedBy;
      if (json.trainingConfig) artifacts.trainingConfig = json.trainingConfig;
      if (json.userDefinedMetadata) artifacts.userDefinedMetadata = json.userDefinedMetadata as Record<string, object>;
      return artifacts;
    },

    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer)
        throw new Error("saving binary model topologies is not supported");
      await mkdir(dir, { recursive: true });
      const weightsFile = "weights.bin";
      const data = artifacts.weightData
        ? new tf.io.CompositeArrayBuffer(artifacts.weightData).slice()
        : new ArrayBuffer(0);
      await writeFile(join(dir, weightsFile), new Uint8Array(data));
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      await writeFile(modelJsonPath, JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}
