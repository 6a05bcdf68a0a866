/**
 * Class images: listed from a folder (sorted by file name), decoded with sharp, brought to the
 * model's input size. Pixels stay raw (0..255); the model's manifest says how to normalise them.
 * An image larger than the input is resized to it (bilinear, the whole image, aspect not kept — as
 * the platform draws patches and resizes uploaded images); a smaller one is refused, never upsampled.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import type { DecodedImages } from "./runTypes";

export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".webp"] as const;

export interface ClassImages {
  /** File names (no folder), in the order used. */
  names: string[];
  /** Raw RGB pixels, [n, size, size, 3] row-major, values 0..255. */
  pixels: Float32Array;
  size: number;
}

/** Lists the PNG/JPEG/WebP files of a folder, sorted by name (byte order, as Python's sorted()). */
export async function listImages(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error("not a folder");
    entries = await readdir(dir);
  } catch (e) {
    throw new Error(`cannot read image folder ${dir}: ${(e as Error).message}`);
  }
  const files = entries
    .filter((f) => (IMAGE_EXTENSIONS as readonly string[]).includes(extname(f).toLowerCase()) && !f.startsWith("."))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`no PNG, JPEG or WebP images in ${dir}`);
  return files;
}

/** Decodes one image to raw RGB at the model's input size; a clear error names the file. */
export async function decodeImage(path: string, size: number): Promise<Uint8Array> {
  // loaded on first use, so bundles that only take decoded images need no native image library
  const { default: sharp } = await import("sharp");
  const input = sharp(path, { failOn: "error" });
  const unreadable = (e: unknown) =>
    new Error(`${basename(path)} is not a readable PNG, JPEG or WebP image: ${(e as Error).message}`);
  // the header first: a smaller image is refused before any pixel is decoded
  const { width = 0, height = 0 } = await input.metadata().catch((e: unknown) => Promise.reject(unreadable(e)));
  if (width < size || height < size) {
    throw new Error(
      `${basename(path)} is ${width}×${height}; the model takes ${size}×${size} images (a smaller image is not upsampled)`,
    );
  }
  if (width !== size || height !== size) input.resize(size, size, { fit: "fill", kernel: "linear" });
  const out = await input
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((e: unknown) => Promise.reject(unreadable(e)));
  const { channels } = out.info;
  if (channels !== 3) throw new Error(`${basename(path)} has ${channels} channels after conversion; expected RGB`);
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

export async function loadClassImages(source: string | string[] | DecodedImages, size: number): Promise<ClassImages> {
  if (typeof source === "object" && !Array.isArray(source)) {
    const n = source.names.length;
    if (n === 0) throw new Error("no images given");
    if (source.size !== size)
      throw new Error(`the images are ${source.size}×${source.size}; the model takes ${size}×${size} images`);
    if (source.pixels.length !== n * size * size * 3) {
      throw new Error(`decoded images: expected ${n}×${size}×${size}×3 values, got ${source.pixels.length}`);
    }
    return { names: [...source.names], pixels: Float32Array.from(source.pixels), size };
  }
  const files = typeof source === "string" ? await listImages(source) : [...source];
  if (files.length === 0) throw new Error("no images given");
  const pixels = new Float32Array(files.length * size * size * 3);
  for (let i = 0; i < files.length; i++) {
    const data = await decodeImage(files[i]!, size);
    pixels.set(data, i * size * size * 3);
  }
  return { names: files.map((f) => basename(f)), pixels, size };
}
