/**
 * The model manifest: which file holds the model, how to feed it, its classes and the layers a
 * circuit may use (layer name → tensor in the graph). Format documented in docs/manifest.md.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";

export const manifestSchema = z.object({
  name: z.string().min(1).max(200),
  format: z.enum(["onnx", "tfjs-layers"]),
  /** Model file relative to the manifest: the .onnx file, or the TF.js model.json. */
  file: z.string().min(1).max(500),
  input: z.object({
    /** Name of the graph's input tensor (ONNX); optional for TF.js layers models. */
    name: z.string().min(1).optional(),
    /** Side of the square input image, in pixels. */
    size: z.number().int().min(8).max(2048),
    /** Layout the model file expects; the engine itself always works in NHWC. */
    layout: z.enum(["NCHW", "NHWC"]).default("NCHW"),
    /** Pixels are divided by `scale`, then normalised per channel: (x - mean) / std. */
    scale: z.number().positive().default(255),
    mean: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]),
    std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([1, 1, 1]),
  }),
  classes: z.array(z.string().min(1).max(200)).min(2).max(100_000),
  /** Candidate circuit layers, bottom-up; `tensor` names a tensor of the graph. */
  layers: z.array(z.object({ name: z.string().min(1).max(200), tensor: z.string().min(1).max(1000) })).min(2),
});

export type Manifest = z.infer<typeof manifestSchema>;

const TYPE_WORDS: Record<string, string> = { array: "a list", object: "an object", int: "an integer" };

/** Messages in the manifest's terms: "is missing", "must be one of …", not a schema dump. */
const manifestMessages: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === "invalid_type")
    return issue.input === undefined ? "is missing" : `must be ${TYPE_WORDS[issue.expected] ?? `a ${issue.expected}`}`;
  if (issue.code === "invalid_value") return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  if (issue.code === "too_small" || issue.code === "too_big") {
    const bound = `${issue.code === "too_small" ? "at least" : "at most"} ${String(issue.code === "too_small" ? issue.minimum : issue.maximum)}`;
    if (issue.origin === "array") return `must list ${bound} items`;
    if (issue.origin === "string") return `must have ${bound} characters`;
    return `must be ${bound}`;
  }
  return undefined;
};

function describe(error: z.ZodError): string {
  const shown = error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "the manifest"} ${i.message}`);
  const more = error.issues.length - shown.length;
  return `${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""} (see docs/manifest.md)`;
}

/** Validates an already-parsed manifest object; throws a clear error. */
export function parseManifest(value: unknown, source = "manifest"): Manifest {
  const r = manifestSchema.safeParse(value, { error: manifestMessages });
  if (!r.success) throw new Error(`${source} is not a valid model manifest: ${describe(r.error)}`);
  const m = r.data;
  const seen = new Set<string>();
  for (const l of m.layers) {
    if (seen.has(l.name)) throw new Error(`${source}: layer "${l.name}" is listed twice`);
    seen.add(l.name);
  }
  if (new Set(m.classes).size !== m.classes.length) throw new Error(`${source}: class names must be unique`);
  return m;
}

export async function readManifest(path: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read manifest ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`manifest ${path} is not JSON: ${(e as Error).message}`);
  }
  return parseManifest(json, `manifest ${path}`);
}
