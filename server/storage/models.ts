/**
 * Model upload: an ONNX file + manifest, or a TF.js layers model (model.json + weight files) +
 * manifest. Structural checks happen here (manifest schema, formats, sizes, weight files named by
 * model.json all present); the load check (load + one batch) runs in the worker. Files land in a
 * temp folder and are renamed into place only when everything passed.
 */
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { parseManifest, type Manifest } from "~/server/neurflow/light";
import { limits, UploadError } from "./limits";
import { modelsDir, writeAtomically } from "./paths";

export interface UploadedFile {
  name: string;
  data: Buffer;
}

export interface ModelUpload {
  manifest: UploadedFile;
  /** ONNX model file. */
  onnx?: UploadedFile;
  /** TF.js model.json and its weight shards. */
  modelJson?: UploadedFile;
  weights?: UploadedFile[];
}

export interface StoredModel {
  dir: string;
  manifestPath: string;
  filePath: string;
  manifest: Manifest;
  checksum: string;
  sizeBytes: number;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2 };
const FILE_NAME = /^[A-Za-z0-9._-]{1,200}$/;
/** Names the stored model folder uses itself: a weight file may not take them. */
const RESERVED_NAMES = new Set(["manifest.json", "model.json", "model.onnx"]);

const tfjsModelJson = z.object({
  modelTopology: z.record(z.string(), z.unknown()),
  format: z.string().optional(),
  weightsManifest: z
    .array(
      z.object({
        paths: z.array(z.string()).min(1),
        weights: z.array(
          z.object({
            name: z.string(),
            shape: z.array(z.number().int().nonnegative()),
            dtype: z.string(),
            quantization: z.unknown().optional(),
          }),
        ),
      }),
    )
    .min(1),
});

/**
 * The engine's upload check, loaded on the first model upload (it brings TensorFlow.js; nothing is
 * run). Imported from its module, not from the engine entry (`~/server/neurflow`, which re-exports
 * it): the entry also brings the backends and the worker pool, whose webgpu and tsx imports the
 * Next.js server bundle cannot take.
 */
const engine = () => import("~/server/neurflow/modelCheck");

/** The engine's structural check of the graph against the manifest (tensors, class count): its error becomes a 400. */
async function checkModelStructure(check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (e) {
    const { ModelCheckError } = await engine();
    if (e instanceof ModelCheckError) throw new UploadError(e.message);
    throw e;
  }
}

function parseJson(label: string, data: Buffer): unknown {
  try {
    return JSON.parse(data.toString("utf8"));
  } catch (e) {
    throw new UploadError(`${label} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Validates the upload and writes it to `<root>/models/<uuid>/`. */
export async function storeModelUpload(root: string, up: ModelUpload): Promise<StoredModel> {
  if (up.manifest.data.length > limits.manifestBytes)
    throw new UploadError(`the manifest is larger than ${limits.manifestBytes} bytes`);
  let manifest: Manifest;
  try {
    manifest = parseManifest(parseJson("the manifest", up.manifest.data), "the manifest");
  } catch (e) {
    throw new UploadError((e as Error).message);
  }
  const files: UploadedFile[] = [];
  let modelFile: string;
  if (up.onnx) {
    if (up.modelJson || up.weights?.length)
      throw new UploadError("upload either an ONNX file or a TF.js model, not both");
    if (manifest.format !== "onnx")
      throw new UploadError(`the manifest says format "${manifest.format}" but an ONNX file was uploaded`);
    const d = up.onnx.data;
    if (d.length === 0) throw new UploadError("the ONNX file is empty");
    if (d.length > limits.modelBytes)
      throw new UploadError(`the ONNX file has ${d.length} bytes; at most ${limits.modelBytes} are allowed`);
    // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
    if (d[0] !== 0x08) throw new UploadError(`${up.onnx.name} is not an ONNX model (no ModelProto header)`);
    await checkModelStructure(() =>
      engine().then((e) => e.checkOnnxUpload(manifest, new Uint8Array(d.buffer, d.byteOffset, d.byteLength))),
    );
    modelFile = "model.onnx";
    files.push({ name: modelFile, data: d });
  } else if (up.modelJson) {
    if (manifest.format !== "tfjs-layers")
      throw new UploadError(`the manifest says format "${manifest.format}" but a TF.js model was uploaded`);
    const parsed = tfjsModelJson.safeParse(parseJson("model.json", up.modelJson.data));
    if (!parsed.success)
      throw new UploadError(
        `model.json is not a TF.js layers model: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`,
      );
    const weights = new Map<string, UploadedFile>();
    for (const w of up.weights ?? []) {
      if (weights.has(w.name)) throw new UploadError(`the weight file "${w.name}" was uploaded twice`);
      weights.set(w.name, w);
    }
    // "./weights.bin" (what tfjs-node's file saver writes) names the same file as "weights.bin"
    const needed = [
      ...new Set(parsed.data.weightsManifest.flatMap((g) => g.paths).map((p) => (p.startsWith("./") ? p.slice(2) : p))),
    ];
    let total = 0;
    for (const p of needed) {
      if (!FILE_NAME.test(p))
        throw new UploadError(`model.json names the weight file "${p}": only plain file names are accepted`);
      if (RESERVED_NAMES.has(p.toLowerCase()))
        throw new UploadError(
          `model.json names the weight file "${p}": that name is reserved for the model's own files (${[...RESERVED_NAMES].join(", ")})`,
        );
      const w = weights.get(p);
      if (!w) throw new UploadError(`model.json needs the weight file "${p}", which was not uploaded`);
      total += w.data.length;
    }
    for (const name of weights.keys())
      if (!needed.includes(name)) throw new UploadError(`weight file "${name}" is not named by model.json`);
    if (total > limits.modelBytes)
      throw new UploadError(`the weight files have ${total} bytes; at most ${limits.modelBytes} are allowed`);
    const quantized = parsed.data.weightsManifest.some((g) => g.weights.some((w) => w.quantization != null));
    if (!quantized) {
      let expected = 0;
      for (const g of parsed.data.weightsManifest)
        for (const w of g.weights) {
          const b = DTYPE_BYTES[w.dtype];
          if (!b) throw new UploadError(`weight "${w.name}" has unsupported dtype "${w.dtype}"`);
          expected += b * w.shape.reduce((a, s) => a * s, 1);
        }
      if (expected !== total)
        throw new UploadError(`the weight files have ${total} bytes but model.json describes ${expected}`);
    }
    await checkModelStructure(() => engine().then((e) => e.checkLayersUpload(manifest, parsed.data.modelTopology)));
    modelFile = "model.json";
    files.push({ name: modelFile, data: up.modelJson.data }, ...needed.map((p) => weights.get(p)!));
  } else {
    throw new UploadError("no model file: upload an ONNX file, or a TF.js model.json with its weight files");
  }
  const stored: Manifest = { ...manifest, file: modelFile };
  const manifestData = Buffer.from(JSON.stringify(stored, null, 1));
  const hash = createHash("sha256");
  for (const f of files) hash.update(f.data);
  const checksum = hash.digest("hex");
  const dir = await writeAtomically(root, modelsDir(root), async (tmp) => {
    for (const f of files) await writeFile(join(tmp, f.name), f.data, { flag: "wx" });
    await writeFile(join(tmp, "manifest.json"), manifestData, { flag: "wx" });
  });
  return {
    dir,
    manifestPath: join(dir, "manifest.json"),
    filePath: join(/* turbopackIgnore: true */ dir, modelFile),
    manifest: stored,
    checksum,
    sizeBytes: files.reduce((a, f) => a + f.data.length, 0),
  };
}
