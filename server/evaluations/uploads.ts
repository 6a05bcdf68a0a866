/**
 * Images for image debugging: uploads are checked as dataset uploads are (PNG, JPEG or WebP, a
 * full decode, 8–4096 px a side, 20 MB each; `server/storage/images.ts`), then resized to the
 * model's input size — bilinear, aspect ratio not kept, as the viewer's patch renders and the
 * engine's S×S inputs — and stored as `<i>.png` in a new image set under
 * `<data>/evaluations/<circuit>/<set>/` (written to a temp folder and renamed). The resized image is
 * what the engine scores, what the page shows and what crop coordinates refer to.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import sharp from "sharp";
import { decodeCheck, imageHeader, PixelBudget } from "~/server/storage/images";
import { UploadError } from "~/server/storage/limits";
import { tmpDir } from "~/server/storage/paths";
import { EVALUATION_LIMITS } from "~/lib/evaluations/params";
import { imageSetDir, imageSetIdPattern } from "./store";

/** Raw RGB at the model input size, as the viewer's patch renders resize (bilinear, aspect not kept). */
export async function toModelSize(input: string | Buffer, size: number): Promise<Buffer> {
  return sharp(input, { failOn: "error" })
    .removeAlpha()
    .toColourspace("srgb")
    .resize(size, size, { fit: "fill", kernel: "linear" })
    .raw()
    .toBuffer();
}

/** Writes raw model-size images as `<i>.png` into a new image set (temp folder renamed into place). */
export async function writeImageSet(root: string, circuitId: number, raws: Buffer[], size: number): Promise<string> {
  const set = randomUUID();
  const tmp = join(tmpDir(root), `evaluation-${set}`);
  await mkdir(tmp, { recursive: true });
  try {
    for (let i = 0; i < raws.length; i++)
      await writeFile(
        join(tmp, `${i}.png`),
        await sharp(raws[i]!, { raw: { width: size, height: size, channels: 3 } })
          .png()
          .toBuffer(),
      );
    const dest = imageSetDir(root, circuitId, set);
    await mkdir(join(dest, ".."), { recursive: true });
    await rename(tmp, dest);
    return set;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** A readable name for an uploaded file: its base name, control characters dropped, at most 120 characters. */
export function displayName(name: string, i: number): string {
  const n = basename(name.replace(/\\/g, "/"))
    .replace(/[\u0000-\u001f\u007f]/g, "")
    .trim()
    .slice(0, 120);
  return n || `image ${i + 1}`;
}

/** Checks the uploaded files and stores them as a new image set; throws UploadError naming the file and the rule. */
export async function storeDebugUploads(
  root: string,
  circuitId: number,
  files: { name: string; data: Buffer }[],
  size: number,
): Promise<{ set: string; names: string[] }> {
  if (files.length === 0) throw new UploadError("choose at least one image");
  if (files.length > EVALUATION_LIMITS.debugImages)
    throw new UploadError(`${files.length} images: at most ${EVALUATION_LIMITS.debugImages} per request`);
  const raws: Buffer[] = [];
  const names = files.map((f, i) => displayName(f.name, i));
  // every header against the pixel budget first, then the decodes
  const budget = new PixelBudget();
  for (const [i, f] of files.entries()) budget.spend(names[i]!, await imageHeader(names[i]!, f.data));
  for (const [i, f] of files.entries()) {
    await decodeCheck(names[i]!, f.data);
    raws.push(await toModelSize(f.data, size));
  }
  return { set: await writeImageSet(root, circuitId, raws, size), names };
}

/** Image `idx` of a set, PNG at the model input size, or null. */
export async function readSetImage(root: string, circuitId: number, set: string, idx: number): Promise<Buffer | null> {
  if (!imageSetIdPattern.test(set) || !Number.isInteger(idx) || idx < 0) return null;
  try {
    return await readFile(join(imageSetDir(root, circuitId, set), `${idx}.png`));
  } catch {
    return null;
  }
}
