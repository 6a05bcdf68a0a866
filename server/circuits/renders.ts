/**
 * Images of a stored circuit, rendered with sharp once and kept under
 * `<storage>/renders/circuits/<id>/` (written to a temp name and renamed, so a half-written file is
 * never served; concurrent requests for the same file share one render):
 *   patch-<i>.png   patch i: the (x, y, size) crop of its image (resized to the model input, as
 *                   the engine does), resized back to the model input size (bilinear)
 *   mosaic-<g>.png  a neuron group's first MOSAIC_PATCHES concept patches in a 2×2 grid
 *   og.png          the circuit graph (1200×630) with mosaics: the Open Graph preview
 *   thumb.png       the circuit graph, small, without images: the browsing thumbnail
 *   heat-<g>-<i>.png IG heatmap of patch i for group g (written by the heatmaps job)
 *   image-<i>.png   source image i at the model input size (the patch context draws the crop's box on it)
 *   activations.json every group's metric M over all patches (written by the patchActivations job)
 * A circuit's rows never change once stored, so a rendered file stays valid until the circuit is
 * deleted (`circuits.delete` removes the folder); the graph images leave labels out, which change.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { and, eq } from "drizzle-orm";
import type { Db } from "~/db/client";
import { circuitImages, circuitLayers, circuits, neuronGroups } from "~/db/schema";
import { isPlainFileName, writeAtomic } from "~/server/storage/paths";
import { circuitImageDir, loadGraph, patchWithImage } from "./graph";
import { circuitSvg } from "~/lib/circuits/svg";
import { MOSAIC_PATCHES } from "~/lib/circuits/viewTypes";

export interface Rendered {
  body: Buffer;
  etag: string;
  contentType: string;
}

export class RenderNotFound extends Error {}

export function rendersDir(root: string, circuitId: number): string {
  return join(root, "renders", "circuits", String(circuitId));
}

export function etagOf(body: Buffer): string {
  return `"${createHash("sha256").update(body).digest("base64url").slice(0, 32)}"`;
}

const inflight = new Map<string, Promise<Buffer>>();

/** Reads `path`, or renders it once (shared by concurrent callers), writes it atomically and returns it. */
async function cached(path: string, produce: () => Promise<Buffer>): Promise<{ body: Buffer; fresh: boolean }> {
  try {
    return { body: await readFile(path), fresh: false };
  } catch {
    /* not rendered yet */
  }
  let p = inflight.get(path);
  if (!p) {
    p = (async () => {
      const body = await produce();
      await writeAtomic(path, body);
      return body;
    })().finally(() => inflight.delete(path));
    inflight.set(path, p);
  }
  return { body: await p, fresh: true };
}

/** Counts renders (for tests: "generated once and reused"). */
export const renderStats = { produced: 0 };

const png = (body: Buffer): Rendered => ({ body, etag: etagOf(body), contentType: "image/png" });

/** A grey placeholder for circuits whose dataset images are not on this server. */
async function placeholder(size: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="#a1a1aa"/><text x="50%" y="58%" text-anchor="middle" font-size="${Math.round(size / 3)}" fill="#f4f4f5" font-family="sans-serif">?</text></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Decoded model-size images, a few kept in memory while a mosaic or a panel's patches render. */
const decoded = new Map<string, Promise<Buffer>>();
function modelSizeImage(path: string, S: number): Promise<Buffer> {
  const key = `${path}@${S}`;
  let p = decoded.get(key);
  if (!p) {
    p = sharp(path, { failOn: "error" })
      .removeAlpha()
      .toColourspace("srgb")
      .resize(S, S, { fit: "fill", kernel: "linear" })
      .raw()
      .toBuffer();
    p.catch(() => decoded.delete(key));
    decoded.set(key, p);
    if (decoded.size > 64) decoded.delete(decoded.keys().next().value!);
  }
  return p;
}

/** Patch `idx` as raw RGB at the model input size (what the model saw), or null without images. */
export async function patchRaw(db: Db, circuitId: number, idx: number): Promise<{ data: Buffer; size: number } | null> {
  const p = patchWithImage(db, circuitId, idx);
  if (!p) throw new RenderNotFound(`no patch ${idx} in circuit ${circuitId}`);
  const png = await patchPixels(db, circuitId, idx);
  return png ? rawOf(png, p.inputSize) : null;
}

/** A rendered patch's raw RGB (what the heatmaps job attributes). */
export async function rawOf(png: Buffer, size: number): Promise<{ data: Buffer; size: number }> {
  return { data: await sharp(png).removeAlpha().raw().toBuffer(), size };
}

async function patchPixels(db: Db, circuitId: number, idx: number): Promise<Buffer | null> {
  const p = patchWithImage(db, circuitId, idx);
  if (!p) throw new RenderNotFound(`no patch ${idx} in circuit ${circuitId}`);
  const dir = circuitImageDir(db, circuitId);
  // a stored name is a plain file name (the engine lists one folder); refuse anything else
  if (!dir || !isPlainFileName(p.imageName)) return null;
  return patchFromImageFile(join(dir, p.imageName), p);
}

/**
 * A patch as the viewer draws it, from its image file: the (x, y, size) crop of the model-size
 * image, resized back to the model input size (bilinear), PNG. Also what a worker on another
 * machine draws from the images it fetched (server/jobs/platform/http.ts).
 */
export async function patchFromImageFile(
  path: string,
  p: { x: number; y: number; size: number; inputSize: number },
): Promise<Buffer> {
  const S = p.inputSize;
  const raw = await modelSizeImage(path, S);
  const size = Math.min(p.size, S);
  const crop = sharp(raw, { raw: { width: S, height: S, channels: 3 } }).extract({
    left: Math.min(p.x, S - size),
    top: Math.min(p.y, S - size),
    width: size,
    height: size,
  });
  return (size === S ? crop : crop.resize(S, S, { kernel: "linear" })).png().toBuffer();
}

export async function renderPatch(db: Db, root: string, circuitId: number, idx: number): Promise<Rendered> {
  const inputSize = patchWithImage(db, circuitId, idx)?.inputSize;
  if (inputSize == null) throw new RenderNotFound(`no patch ${idx} in circuit ${circuitId}`);
  if (!circuitImageDir(db, circuitId)) return png(await placeholder(inputSize));
  const { body } = await cached(join(rendersDir(root, circuitId), `patch-${idx}.png`), async () => {
    renderStats.produced++;
    return (await patchPixels(db, circuitId, idx)) ?? placeholder(inputSize);
  });
  return png(body);
}

/** Source image `imageIdx` of a circuit at the model input size (what the model saw; the patch boxes are in its pixels). */
export async function renderSourceImage(db: Db, root: string, circuitId: number, imageIdx: number): Promise<Rendered> {
  const row = db
    .select({ name: circuitImages.name, inputSize: circuits.modelInputSize })
    .from(circuitImages)
    .innerJoin(circuits, eq(circuits.id, circuitImages.circuitId))
    .where(and(eq(circuitImages.circuitId, circuitId), eq(circuitImages.idx, imageIdx)))
    .get();
  if (!row) throw new RenderNotFound(`no image ${imageIdx} in circuit ${circuitId}`);
  const dir = circuitImageDir(db, circuitId);
  // a stored name is a plain file name (the engine lists one folder); refuse anything else
  if (!dir || !isPlainFileName(row.name)) return png(await placeholder(row.inputSize));
  const S = row.inputSize;
  const { body } = await cached(join(rendersDir(root, circuitId), `image-${imageIdx}.png`), async () => {
    renderStats.produced++;
    const raw = await modelSizeImage(join(dir, row.name), S);
    return sharp(raw, { raw: { width: S, height: S, channels: 3 } })
      .png()
      .toBuffer();
  });
  return png(body);
}

/** Concept graphs of the last few circuits whose mosaics were rendered (their patches never change). */
const graphs = new Map<number, ReturnType<typeof loadGraph>>();
function graphFor(db: Db, circuitId: number): ReturnType<typeof loadGraph> {
  if (!graphs.has(circuitId)) {
    graphs.set(circuitId, loadGraph(db, circuitId));
    if (graphs.size > 4) graphs.delete(graphs.keys().next().value!);
  }
  return graphs.get(circuitId)!;
}

/** Where the IG heatmap of patch `idx` for neuron group `group` is kept (written by the heatmaps job). */
export function heatmapPath(root: string, circuitId: number, group: number, idx: number): string {
  return join(rendersDir(root, circuitId), `heat-${group}-${idx}.png`);
}

export async function renderHeatmap(root: string, circuitId: number, group: number, idx: number): Promise<Rendered> {
  try {
    return png(await readFile(heatmapPath(root, circuitId, group, idx)));
  } catch {
    throw new RenderNotFound(`no heatmap of patch ${idx} for group ${group} yet (computed on request)`);
  }
}

export const MOSAIC_CELL = 64;
export const MOSAIC_GAP = 2;

export async function renderMosaic(db: Db, root: string, circuitId: number, groupRowId: number): Promise<Rendered> {
  const g = db
    .select({ id: neuronGroups.id })
    .from(neuronGroups)
    .innerJoin(circuitLayers, eq(circuitLayers.id, neuronGroups.layerId))
    .where(and(eq(neuronGroups.id, groupRowId), eq(circuitLayers.circuitId, circuitId)))
    .get();
  if (!g) throw new RenderNotFound(`no neuron group ${groupRowId} in circuit ${circuitId}`);
  const side = 2 * MOSAIC_CELL + MOSAIC_GAP;
  if (!circuitImageDir(db, circuitId)) return png(await placeholder(side));
  const { body } = await cached(join(rendersDir(root, circuitId), `mosaic-${groupRowId}.png`), async () => {
    renderStats.produced++;
    const graph = graphFor(db, circuitId);
    const patches = graph?.groups.find((x) => x.id === groupRowId)?.patches.slice(0, MOSAIC_PATCHES) ?? [];
    const cells = await Promise.all(
      patches.map(async (p) => {
        const px = await patchPixels(db, circuitId, p);
        return px
          ? sharp(px).resize(MOSAIC_CELL, MOSAIC_CELL, { kernel: "linear" }).png().toBuffer()
          : placeholder(MOSAIC_CELL);
      }),
    );
    return sharp({ create: { width: side, height: side, channels: 3, background: "#71717a" } })
      .composite(
        cells.map((input, i) => ({
          input,
          left: (i % 2) * (MOSAIC_CELL + MOSAIC_GAP),
          top: Math.floor(i / 2) * (MOSAIC_CELL + MOSAIC_GAP),
        })),
      )
      .png()
      .toBuffer();
  });
  return png(body);
}

/** Largest circuit whose Open Graph image embeds every node's mosaic (beyond it: plain nodes). */
export const OG_MAX_MOSAICS = 60;

export async function renderCircuitImage(
  db: Db,
  root: string,
  circuitId: number,
  kind: "og" | "thumb",
): Promise<Rendered> {
  const loaded = loadGraph(db, circuitId);
  if (!loaded) throw new RenderNotFound(`no circuit ${circuitId}`);
  // captions without labels: labels change, the cached file must not
  const graph = { ...loaded, groups: loaded.groups.map((g) => ({ ...g, label: null })) };
  const { body } = await cached(join(rendersDir(root, circuitId), `${kind}.png`), async () => {
    renderStats.produced++;
    const images = new Map<number, string>();
    if (kind === "og" && graph.circuit.hasImages && graph.groups.length <= OG_MAX_MOSAICS) {
      for (const g of graph.groups) {
        const m = await renderMosaic(db, root, circuitId, g.id);
        images.set(g.id, `data:image/png;base64,${m.body.toString("base64")}`);
      }
    }
    const svg =
      kind === "og"
        ? circuitSvg(graph, {
            width: 1200,
            height: 630,
            images,
            title: `${graph.circuit.className} · ${graph.circuit.modelName} · τ ${graph.circuit.tau} · ${graph.groups.length} groups`,
          })
        : circuitSvg(graph, { width: 320, height: 180, captions: false });
    return sharp(Buffer.from(svg)).png().toBuffer();
  });
  return png(body);
}
