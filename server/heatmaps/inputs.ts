/**
 * What computing a neuron group's IG heatmaps reads and writes (`HeatmapStore`), and its
 * implementation on the database and the storage folder (workers on the web machine). A worker on
 * another machine gets the same through the platform's internal API (server/jobs/platform/http.ts,
 * server/workers/api.ts), which uses `heatmapGroupFacts` and `saveHeatmap` below, so both store
 * the same files.
 */
import { eq } from "drizzle-orm";
import sharp from "sharp";
import type { Db } from "~/db/client";
import { circuits, models } from "~/db/schema";
import { loadGraph } from "~/server/circuits/graph";
import { heatmapPath, patchRaw } from "~/server/circuits/renders";
import { writeAtomic } from "~/server/storage/paths";

/** The circuit, its group or its model is gone: no retry can help. */
export class HeatmapInputError extends Error {
  override name = "HeatmapInputError";
}

/** One group's heatmap inputs, with the model's manifest and the patches' pixels on this machine. */
export interface HeatmapGroup {
  /** The group's layer (the upper layer of its layer pair). */
  layer: string;
  /** Its member neurons (channels), in the order f sums them. */
  neurons: number[];
  /** Its concept patches (indices into the circuit's patches). */
  patches: number[];
  manifestPath: string;
  /** Patch `idx` as raw RGB at the model input size, or null when the circuit's images are not here. */
  patchRaw(idx: number): Promise<{ data: Buffer; size: number } | null>;
  /** Stores patch `idx`'s heatmap (raw RGBA, size × size). */
  save(idx: number, rgba: Buffer, size: number): Promise<void>;
}

export interface HeatmapStore {
  /** A group's inputs (throws HeatmapInputError when the circuit, the group or its model is gone); `jobId` is the job computing them. */
  open(circuitId: number, group: number, jobId: number | null): Promise<HeatmapGroup>;
}

/** What the database knows of a group's heatmaps: its layer, neurons and patches, and the circuit's model. */
export function heatmapGroupFacts(
  db: Db,
  circuitId: number,
  groupRowId: number,
):
  | { ok: true; layer: string; neurons: number[]; patches: number[]; modelId: number; manifestPath: string }
  | { ok: false; error: string } {
  const graph = loadGraph(db, circuitId);
  const group = graph?.groups.find((g) => g.id === groupRowId);
  if (!graph || !group) return { ok: false, error: `no neuron group ${groupRowId} in circuit ${circuitId}` };
  const row = db
    .select({ id: models.id, manifestPath: models.manifestPath })
    .from(circuits)
    .innerJoin(models, eq(models.id, circuits.modelId))
    .where(eq(circuits.id, circuitId))
    .get();
  if (!row) return { ok: false, error: `circuit ${circuitId} has no registered model: heatmaps need the model` };
  return {
    ok: true,
    layer: graph.circuit.layers[group.layer]!,
    neurons: [...new Set(group.members.map((m) => m.neuron))],
    patches: group.patches,
    modelId: row.id,
    manifestPath: row.manifestPath,
  };
}

/** Writes a heatmap (raw RGBA) as the PNG the viewer's overlay reads. */
export async function saveHeatmap(
  root: string,
  circuitId: number,
  group: number,
  idx: number,
  rgba: Buffer,
  size: number,
): Promise<void> {
  const png = await sharp(rgba, { raw: { width: size, height: size, channels: 4 } })
    .png()
    .toBuffer();
  await writeAtomic(heatmapPath(root, circuitId, group, idx), png);
}

export function localHeatmapStore(db: Db, root: string): HeatmapStore {
  return {
    async open(circuitId, group) {
      const facts = heatmapGroupFacts(db, circuitId, group);
      if (!facts.ok) throw new HeatmapInputError(facts.error);
      return {
        layer: facts.layer,
        neurons: facts.neurons,
        patches: facts.patches,
        manifestPath: facts.manifestPath,
        patchRaw: (idx) => patchRaw(db, circuitId, idx),
        save: (idx, rgba, size) => saveHeatmap(root, circuitId, group, idx, rgba, size),
      };
    },
  };
}
