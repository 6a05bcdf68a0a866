/**
 * The files a worker may fetch through the internal API, and their checksums: a model's folder
 * (manifest.json and its model files), the images of one class folder of a dataset, exactly as
 * the engine lists them, and a circuit's evaluation image sets (`<i>.png`). Names are plain file names inside those folders (no folders, not hidden),
 * regular files only; a checksum is computed once per file version (path, size, mtime) and kept in
 * memory. `openListedFile` is what the file route streams; it refuses anything it would not list.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import type { Db } from "~/db/client";
import { circuits, datasets, images as imageRows, models, runs } from "~/db/schema";
import { IMAGE_EXTENSIONS } from "~/server/neurflow/light";
import { isPlainFileName } from "~/server/storage/paths";
import { limits } from "~/server/storage/limits";
import { imageSetDir } from "~/server/evaluations/store";
import { imageSetIdPattern } from "~/server/jobs/kinds/evaluation";
import { imageSetFileName, type FileRef } from "./protocol";

const sums = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

async function checksum(path: string): Promise<{ size: number; sha256: string }> {
  const st = await stat(path);
  if (!st.isFile()) throw new Error("not a regular file");
  const known = sums.get(path);
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known;
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  const entry = { size: st.size, mtimeMs: st.mtimeMs, sha256: h.digest("hex") };
  sums.set(path, entry);
  if (sums.size > 200_000) sums.delete(sums.keys().next().value!);
  return entry;
}

const isImageName = (n: string) =>
  isPlainFileName(n) && (IMAGE_EXTENSIONS as readonly string[]).includes(extname(n).toLowerCase());

async function refsOf(dir: string, names: string[], scope: FileRef["scope"]): Promise<FileRef[]> {
  const out: FileRef[] = [];
  for (const name of names) {
    const { size, sha256 } = await checksum(join(dir, name));
    out.push({ scope, name, size, sha256 });
  }
  return out;
}

/** A model's files: every plain file of its folder (manifest.json among them). */
export async function modelFileRefs(db: Db, modelId: number): Promise<{ manifest: string; files: FileRef[] } | null> {
  const m = db.select().from(models).where(eq(models.id, modelId)).get();
  if (!m) return null;
  const names: string[] = [];
  for (const e of await readdir(m.dir, { withFileTypes: true }))
    if (e.isFile() && isPlainFileName(e.name)) names.push(e.name);
  names.sort();
  const manifest = m.manifestPath.slice(m.dir.length + 1);
  if (!names.includes(manifest)) throw new Error(`model ${modelId}: its manifest is not in its folder`);
  return { manifest, files: await refsOf(m.dir, names, { kind: "model", id: modelId }) };
}

/** The images of one class folder of a dataset, as the engine lists them (PNG/JPEG/WebP, not hidden). */
export async function classImageRefs(db: Db, datasetId: number, className: string): Promise<FileRef[]> {
  const d = db.select().from(datasets).where(eq(datasets.id, datasetId)).get();
  if (!d || !isPlainFileName(className)) return [];
  const dir = join(d.dir, className);
  const names = (await readdir(dir, { withFileTypes: true }).catch(() => []))
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && isImageName(e.name))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return refsOf(dir, names, { kind: "dataset", id: datasetId, className });
}

/** Named images of a dataset's class folder, in the given order (null when one is missing). */
export async function namedImageRefs(
  db: Db,
  datasetId: number,
  className: string,
  names: string[],
): Promise<FileRef[] | null> {
  const d = db.select().from(datasets).where(eq(datasets.id, datasetId)).get();
  if (!d || !isPlainFileName(className) || !names.every(isPlainFileName)) return null;
  try {
    return await refsOf(join(d.dir, className), names, { kind: "dataset", id: datasetId, className });
  } catch {
    return null;
  }
}

/**
 * Where a stored circuit's images are, for labeling on another machine: its run's dataset
 * ("rendered", as the viewer draws patches), or for an imported circuit any registered dataset whose
 * class folder holds every one of them ("files"), as server/labeling/circuitData.ts looks them up.
 */
export async function circuitImageRefs(
  db: Db,
  circuitId: number,
  names: string[],
): Promise<{ mode: "rendered" | "files"; files: FileRef[] } | null> {
  const c = db
    .select({ runId: circuits.runId, className: circuits.className })
    .from(circuits)
    .where(eq(circuits.id, circuitId))
    .get();
  if (!c || names.length === 0) return null;
  if (c.runId != null) {
    const r = db.select({ datasetId: runs.datasetId }).from(runs).where(eq(runs.id, c.runId)).get();
    if (r) {
      const files = await namedImageRefs(db, r.datasetId, c.className, names);
      if (files) return { mode: "rendered", files };
    }
  }
  const candidates = db
    .selectDistinct({ id: imageRows.datasetId })
    .from(imageRows)
    .where(eq(imageRows.fileName, names[0]!))
    .all()
    .map((x) => x.id)
    .sort((a, b) => b - a);
  for (const id of candidates) {
    const files = await namedImageRefs(db, id, c.className, names);
    if (files) return { mode: "files", files };
  }
  return null;
}

/** Image set `set` of a circuit, `0.png … (count-1).png` (null when one is missing). */
export async function imageSetRefs(
  root: string,
  circuitId: number,
  set: string,
  count: number,
): Promise<FileRef[] | null> {
  if (!imageSetIdPattern.test(set)) return null;
  const names = Array.from({ length: count }, (_, i) => `${i}.png`);
  try {
    return await refsOf(imageSetDir(root, circuitId, set), names, { kind: "imageSet", id: circuitId, set });
  } catch {
    return null;
  }
}

/** The registered images of a dataset (their class folders and names), as file refs. */
export async function datasetImageRefs(
  db: Db,
  datasetId: number,
  rows: { className: string; fileName: string }[],
): Promise<FileRef[]> {
  const d = db.select().from(datasets).where(eq(datasets.id, datasetId)).get();
  if (!d) return [];
  const out: FileRef[] = [];
  for (const r of rows) {
    if (!isPlainFileName(r.className) || !isImageName(r.fileName))
      throw new Error(`dataset ${datasetId}: "${r.className}/${r.fileName}" is not a plain image file name`);
    const { size, sha256 } = await checksum(join(d.dir, r.className, r.fileName));
    out.push({ scope: { kind: "dataset", id: datasetId, className: r.className }, name: r.fileName, size, sha256 });
  }
  return out;
}

export class FileRefused extends Error {
  constructor(
    readonly status: 400 | 404 | 413,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Opens a file named by the route's segments: `model/<id>/<name>`,
 * `dataset/<id>/<class>/<name>` or `imageSet/<circuit>/<set>/<i>.png`. Refuses (FileRefused) names that are not plain file names, files
 * outside those folders, what the listing would not hold, and files over the size limit.
 */
export async function openListedFile(
  db: Db,
  root: string,
  segments: string[],
): Promise<{ stream: ReadableStream<Uint8Array>; size: number; name: string }> {
  const bad = (m: string) => new FileRefused(400, m);
  const [kind, idText, ...rest] = segments;
  const id = Number(idText);
  if (!Number.isSafeInteger(id) || id <= 0 || String(id) !== idText) throw bad("a file is named by a positive id");
  let dir: string;
  let name: string;
  if (kind === "model" && rest.length === 1) {
    name = rest[0]!;
    if (!isPlainFileName(name)) throw bad("not a plain file name");
    const m = db.select({ dir: models.dir }).from(models).where(eq(models.id, id)).get();
    if (!m) throw new FileRefused(404, `no model ${id}`);
    dir = m.dir;
  } else if (kind === "dataset" && rest.length === 2) {
    const [className, file] = rest as [string, string];
    if (!isPlainFileName(className) || !isImageName(file)) throw bad("not a plain image file name");
    const d = db.select({ dir: datasets.dir }).from(datasets).where(eq(datasets.id, id)).get();
    if (!d) throw new FileRefused(404, `no dataset ${id}`);
    dir = join(d.dir, className);
    name = file;
  } else if (kind === "imageSet" && rest.length === 2) {
    const [set, file] = rest as [string, string];
    if (!imageSetIdPattern.test(set) || !imageSetFileName.test(file)) throw bad("not an image set's file name");
    dir = imageSetDir(root, id, set);
    name = file;
  } else
    throw bad(
      "expected files/model/<id>/<name>, files/dataset/<id>/<class>/<name> or files/imageSet/<circuit>/<set>/<i>.png",
    );
  const path = join(dir, name);
  const st = await stat(path).catch(() => null);
  if (!st?.isFile()) throw new FileRefused(404, `no file ${name}`);
  const max = Math.max(limits.modelBytes, limits.imageBytes);
  if (st.size > max) throw new FileRefused(413, `${name} has ${st.size} bytes; at most ${max} are served`);
  const stream = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
  return { stream, size: st.size, name };
}
