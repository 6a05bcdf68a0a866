/**
 * Where files live. Everything under one root (NEURFLOW_DATA, default ./data/files) so a
 * temp folder and its final place are on the same file system and `rename` is atomic.
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";

export function storageRoot(): string {
  return resolve(/* turbopackIgnore: true */ process.env.NEURFLOW_DATA ?? join(process.cwd(), "data", "files"));
}

export const modelsDir = (root = storageRoot()) => join(root, "models");
export const datasetsDir = (root = storageRoot()) => join(root, "datasets");
export const tmpDir = (root = storageRoot()) => join(root, "tmp");

/** A name that stays inside the folder it is joined to: no separators, not hidden, not `.` or `..`. */
export function isPlainFileName(name: string): boolean {
  return name !== "" && name === basename(name) && !name.includes("\\") && !name.startsWith(".");
}

/** True when `child` is `parent` or inside it (after resolving `..`). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(resolve(parent), resolve(child));
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** Writes a file atomically: a temp name beside it, then renamed (the temp file is removed on error). */
export async function writeAtomic(path: string, body: Buffer): Promise<void> {
  const dir = join(path, "..");
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`);
  try {
    await writeFile(tmp, body);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Runs `fill` on a fresh temp folder, then renames it to `<finalParent>/<uuid>`. On any error the
 * temp folder is removed: nothing half-written is ever visible at a final path.
 */
export async function writeAtomically(
  root: string,
  finalParent: string,
  fill: (dir: string) => Promise<void>,
): Promise<string> {
  const tmp = join(tmpDir(root), `upload-${randomUUID()}`);
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    await mkdir(finalParent, { recursive: true });
    const dest = join(finalParent, randomUUID());
    const { rename } = await import("node:fs/promises");
    await rename(tmp, dest);
    return dest;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
