/** Uploads of the toyworld-a fixture, as the browser would send them. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeZip, type ZipInput } from "./zipWriter";

export const FIXTURE = join(process.cwd(), "tests", "fixtures", "toyworld-a");
export const FIXTURE_IMAGES = join(FIXTURE, "images");

export function file(data: Buffer | string, name: string): File {
  return new File([typeof data === "string" ? data : new Uint8Array(data)], name);
}

export function modelForm(opts: { manifest?: string | object; onnx?: Buffer; name?: string } = {}): FormData {
  const form = new FormData();
  const manifest = opts.manifest ?? readFileSync(join(FIXTURE, "manifest.json"), "utf8");
  form.set("manifest", file(typeof manifest === "string" ? manifest : JSON.stringify(manifest), "manifest.json"));
  form.set("onnx", file(opts.onnx ?? readFileSync(join(FIXTURE, "toynet.onnx")), "toynet.onnx"));
  if (opts.name) form.set("name", opts.name);
  return form;
}

/** The fixture's images as zip entries `<class>/<file>` (optionally only some classes / a few per class). */
export function fixtureZipEntries(classes?: string[], perClass = 3, prefix = ""): ZipInput[] {
  const out: ZipInput[] = [];
  for (const c of classes ?? readdirSync(FIXTURE_IMAGES).sort())
    for (const f of readdirSync(join(FIXTURE_IMAGES, c)).sort().slice(0, perClass))
      out.push({ name: `${prefix}${c}/${f}`, data: readFileSync(join(FIXTURE_IMAGES, c, f)) });
  return out;
}

export function datasetForm(zip: Buffer, name = "toy images", modelId?: number): FormData {
  const form = new FormData();
  form.set("name", name);
  form.set("file", file(zip, "images.zip"));
  if (modelId != null) form.set("modelId", String(modelId));
  return form;
}

export { makeZip };
