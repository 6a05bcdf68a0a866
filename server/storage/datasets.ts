/**
 * Dataset import: a zip upload or a folder already on the server, one sub-folder per class.
 * Everything is checked before anything becomes visible: a zip is unpacked into a temp folder and
 * renamed into place only when every entry passed; a server folder is read in place.
 */
import { lstat, mkdir, readdir, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { limits, UploadError } from "./limits";
import { checkImage, decodeCheck, hasImageExtension, imageHeader, PixelBudget, type ImageInfo } from "./images";
import { datasetsDir, isInside, writeAtomically } from "./paths";
import { openZip, safeEntryPath } from "./zip";

export interface DatasetImage extends ImageInfo {
  className: string;
  fileName: string;
  sizeBytes: number;
}

export interface DatasetCheckRules {
  /** Class names allowed (the model's), when a model is named. */
  classes?: readonly string[];
  /** Smallest image side allowed (the model's input size), when a model is named. */
  minSide?: number;
}

export interface ImportedDataset {
  dir: string;
  images: DatasetImage[];
  classes: string[];
}

const IGNORED = (segment: string) => segment.startsWith(".") || segment === "__MACOSX" || segment === "Thumbs.db";
/** Longest class folder or image file name, in UTF-8 bytes (file systems allow 255). */
const MAX_NAME_BYTES = 200;

/** A class folder or image file name the store can hold: no separators or control characters, not too long. */
function checkName(kind: "class folder" | "image file", name: string, where: string): void {
  if (/[/\\\u0000-\u001f\u007f]/.test(name))
    throw new UploadError(
      `${where}: the ${kind} name "${name.replace(/[\u0000-\u001f\u007f]/g, "?")}" has a control character or a path separator`,
    );
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes === 0 || bytes > MAX_NAME_BYTES)
    throw new UploadError(
      `${where}: the ${kind} name has ${bytes} bytes; names of 1 to ${MAX_NAME_BYTES} bytes are accepted`,
    );
}

function checkCounts(images: DatasetImage[], rules: DatasetCheckRules): string[] {
  if (images.length === 0)
    throw new UploadError("no images found: expected one folder per class with PNG/JPEG/WebP images inside");
  if (images.length > limits.images)
    throw new UploadError(`${images.length} images; at most ${limits.images} are allowed`);
  const perClass = new Map<string, number>();
  for (const i of images) perClass.set(i.className, (perClass.get(i.className) ?? 0) + 1);
  if (perClass.size > limits.classes)
    throw new UploadError(`${perClass.size} classes; at most ${limits.classes} are allowed`);
  for (const [c, n] of perClass) {
    if (n > limits.imagesPerClass)
      throw new UploadError(`class "${c}" has ${n} images; at most ${limits.imagesPerClass} are allowed`);
    if (rules.classes && !rules.classes.includes(c))
      throw new UploadError(
        `folder "${c}" is not a class of the model (its classes: ${rules.classes.slice(0, 20).join(", ")}${rules.classes.length > 20 ? ", …" : ""})`,
      );
  }
  return [...perClass.keys()].sort();
}

/**
 * Unpacks and checks the zip at `zipPath` (read from disk with yauzl); returns the final folder
 * (under the storage root). First every entry is unpacked and its image header checked, counting
 * the decoded pixels against the upload's budget; only then is each image decoded in full.
 */
export async function importDatasetZip(
  root: string,
  zipPath: string,
  rules: DatasetCheckRules = {},
): Promise<ImportedDataset> {
  const zipBytes = (await stat(zipPath)).size;
  if (zipBytes > limits.zipBytes)
    throw new UploadError(`the zip has ${zipBytes} bytes; at most ${limits.zipBytes} are allowed`);
  const zip = await openZip(zipPath, {
    maxEntries: limits.zipEntries,
    maxTotalBytes: limits.unzippedBytes,
    maxRatio: limits.zipRatio,
  });
  try {
    const files = zip.entries
      .filter((e) => !e.isDirectory)
      .map((e) => ({ e, parts: safeEntryPath(e.name) }))
      .filter(({ parts }) => parts.length > 0 && !parts.some(IGNORED));
    // Accept "class/image.png" and "wrapper/class/image.png" (a zipped folder).
    const tops = new Set(files.map((f) => f.parts[0]));
    const strip = tops.size === 1 && files.every((f) => f.parts.length === 3) ? 1 : 0;
    const images: DatasetImage[] = [];
    const budget = new PixelBudget();
    const dir = await writeAtomically(root, datasetsDir(root), async (tmp) => {
      const written: { label: string; dest: string }[] = [];
      for (const { e, parts } of files) {
        const rel = parts.slice(strip);
        if (rel.length !== 2) throw new UploadError(`"${e.name}": expected <class>/<image>, one folder per class`);
        const [className, fileName] = rel as [string, string];
        checkName("class folder", className, `"${e.name}"`);
        checkName("image file", fileName, `"${e.name}"`);
        if (!hasImageExtension(fileName))
          throw new UploadError(`"${e.name}": not an image file (PNG, JPEG or WebP expected)`);
        if (e.size > limits.imageBytes)
          throw new UploadError(
            `"${e.name}": ${e.size} bytes, more than the ${limits.imageBytes}-byte limit per image`,
          );
        const dest = join(tmp, className, fileName);
        if (!isInside(tmp, dest)) throw new UploadError(`path escapes the dataset folder: "${e.name}"`);
        if (images.length >= limits.images)
          throw new UploadError(`more than ${limits.images} images; at most ${limits.images} are allowed`);
        const data = await zip.read(e);
        const label = `"${e.name}"`;
        const info = await imageHeader(label, data, { minSide: rules.minSide });
        budget.spend(label, info);
        await mkdir(join(tmp, className), { recursive: true });
        await writeFile(dest, data, { flag: "wx" }).catch((err: NodeJS.ErrnoException) => {
          throw err.code === "EEXIST" ? new UploadError(`"${e.name}" appears twice in the zip`) : err;
        });
        written.push({ label, dest });
        images.push({ className, fileName, sizeBytes: data.length, ...info });
      }
      checkCounts(images, rules);
      for (const w of written) await decodeCheck(w.label, w.dest);
    });
    return { dir, images, classes: [...new Set(images.map((i) => i.className))].sort() };
  } finally {
    zip.close();
  }
}

/**
 * The real path of a server folder to register, checked against the allowed roots by real paths:
 * a symbolic link above the folder cannot lead out of them. `roots` null allows any folder.
 */
export async function resolveDatasetFolder(path: string, roots: readonly string[] | null): Promise<string> {
  const real = await realpath(path).catch(() => null);
  if (!real) throw new UploadError(`${path} does not exist`);
  if (!roots) return real;
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => null)));
  if (!realRoots.some((r) => r != null && isInside(r, real)))
    throw new UploadError(
      `${path}${real !== path ? ` (really ${real})` : ""} is outside the allowed dataset folders (NEURFLOW_DATASET_ROOTS)`,
    );
  return real;
}

/** Checks a folder on the server (read in place, never copied). */
export async function scanDatasetFolder(path: string, rules: DatasetCheckRules = {}): Promise<ImportedDataset> {
  const st = await lstat(path).catch(() => null);
  if (!st) throw new UploadError(`${path} does not exist`);
  if (!st.isDirectory()) throw new UploadError(`${path} is not a folder`);
  const images: DatasetImage[] = [];
  const classDirs = (await readdir(path, { withFileTypes: true })).filter((d) => !IGNORED(d.name));
  for (const d of classDirs) {
    if (d.isSymbolicLink()) throw new UploadError(`${join(path, d.name)}: symbolic links are not followed`);
    if (!d.isDirectory()) {
      if (hasImageExtension(d.name))
        throw new UploadError(`${join(path, d.name)}: images must sit in one folder per class, not at the top`);
      continue;
    }
    checkName("class folder", d.name, join(path, d.name));
    const entries = (await readdir(join(path, d.name), { withFileTypes: true })).filter((f) => !IGNORED(f.name));
    for (const f of entries) {
      const full = join(path, d.name, f.name);
      if (f.isSymbolicLink()) throw new UploadError(`${full}: symbolic links are not followed`);
      if (f.isDirectory()) throw new UploadError(`${full}: nested folders are not supported (one folder per class)`);
      if (!hasImageExtension(f.name)) throw new UploadError(`${full}: not an image file (PNG, JPEG or WebP expected)`);
      checkName("image file", f.name, full);
      if (images.length >= limits.images) throw new UploadError(`more than ${limits.images} images`);
      const data = await readFile(full);
      const info = await checkImage(full, data, { minSide: rules.minSide });
      images.push({ className: d.name, fileName: basename(full), sizeBytes: data.length, ...info });
    }
  }
  const classes = checkCounts(images, rules);
  return { dir: path, images, classes };
}
