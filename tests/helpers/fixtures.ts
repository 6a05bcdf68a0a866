/** Uploads of the toyworld-a fixture, as the browser would send them. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
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

/** A PNG whose header says `side`×`side` (one bit per pixel) but whose pixel data is garbage: only a decode could tell. */
export function pngHeaderOnly(side: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", Buffer.from("not pixel data")),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
