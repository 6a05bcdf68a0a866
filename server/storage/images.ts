/** Decodes an image with sharp (a real decode, not just the header) and checks its size. */
import sharp from "sharp";
import { limits, UploadError } from "./limits";

export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".webp"] as const;
const FORMATS = new Set(["png", "jpeg", "webp"]);

export interface ImageInfo {
  width: number;
  height: number;
  format: string;
}

export interface ImageRules {
  /** When a model is named: the model's input side; smaller images are rejected. */
  minSide?: number;
}

export function hasImageExtension(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

/**
 * What an image's header says (sharp metadata: nothing is decoded), checked: a supported format,
 * each side within the limits, at most `limits.imagePixels` decoded pixels.
 */
export async function imageHeader(label: string, data: Buffer, rules: ImageRules = {}): Promise<ImageInfo> {
  if (data.length > limits.imageBytes)
    throw new UploadError(`${label}: ${data.length} bytes, more than the ${limits.imageBytes}-byte limit per image`);
  let meta: sharp.Metadata;
  try {
    meta = await sharp(data, {
      failOn: "error",
      limitInputPixels: limits.imageMaxSide * limits.imageMaxSide,
    }).metadata();
  } catch {
    throw new UploadError(`${label}: not an image (cannot be decoded)`);
  }
  if (!meta.format || !FORMATS.has(meta.format))
    throw new UploadError(`${label}: ${meta.format ?? "unknown"} images are not supported (PNG, JPEG or WebP)`);
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const min = Math.max(limits.imageMinSide, rules.minSide ?? 0);
  if (width < min || height < min)
    throw new UploadError(`${label}: ${width}×${height} is too small (each side must be at least ${min} px)`);
  if (width > limits.imageMaxSide || height > limits.imageMaxSide)
    throw new UploadError(`${label}: ${width}×${height} is too large (each side at most ${limits.imageMaxSide} px)`);
  if (width * height > limits.imagePixels)
    throw new UploadError(
      `${label}: ${width}×${height} has ${width * height} pixels; at most ${limits.imagePixels} per image (NEURFLOW_MAX_IMAGE_PIXELS)`,
    );
  return { width, height, format: meta.format };
}

/** A full decode: catches truncated or corrupt pixel data the header does not show. */
export async function decodeCheck(label: string, input: Buffer | string): Promise<void> {
  try {
    await sharp(input, { failOn: "error", limitInputPixels: limits.imagePixels }).raw().toBuffer();
  } catch {
    throw new UploadError(`${label}: the image data is corrupt (decoding failed)`);
  }
}

/** The decoded pixels an upload may still spend (`limits.uploadPixels`), counted from image headers before any decode. */
export class PixelBudget {
  private used = 0;
  constructor(readonly total = limits.uploadPixels) {}
  spend(label: string, info: ImageInfo): void {
    this.used += info.width * info.height;
    if (this.used > this.total)
      throw new UploadError(
        `${label}: the images decode to more than ${this.total} pixels together (NEURFLOW_MAX_UPLOAD_PIXELS); upload fewer or smaller images`,
      );
  }
}

/** The header check, then a full decode. */
export async function checkImage(label: string, data: Buffer, rules: ImageRules = {}): Promise<ImageInfo> {
  const info = await imageHeader(label, data, rules);
  await decodeCheck(label, data);
  return info;
}
