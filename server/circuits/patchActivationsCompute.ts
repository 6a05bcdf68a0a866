/**
 * Computes every neuron group's metric M over all of its circuit's patches (worker only: imports the
 * engine; the web process reads the result through `patchActivations.ts`).
 */
import { eq } from "drizzle-orm";
import { join } from "node:path";
import type { Db } from "~/db/client";
import { circuits, models } from "~/db/schema";
import { writeAtomic } from "~/server/storage/paths";
import { circuitImageDir, loadGraph } from "./graph";
import { activationsPath, type GroupActivations, type PatchActivationsFile, summarise } from "./patchActivations";
import { exportCircuit } from "./store";

/**
 * Computes metric M of every neuron group on every patch of the circuit (worker only: imports the
 * engine) and writes the summary file. Needs the circuit's registered model and its images.
 */
export async function computePatchActivations(
  db: Db,
  root: string,
  circuitId: number,
  opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ patches: number; groups: number; seconds: number }> {
  const started = Date.now();
  const doc = exportCircuit(db, circuitId);
  const graph = loadGraph(db, circuitId);
  if (!doc || !graph) throw new Error(`circuit ${circuitId} no longer exists`);
  const row = db
    .select({ manifestPath: models.manifestPath })
    .from(circuits)
    .innerJoin(models, eq(models.id, circuits.modelId))
    .where(eq(circuits.id, circuitId))
    .get();
  if (!row) throw new Error(`circuit ${circuitId} has no registered model: activations need the model`);
  const dir = circuitImageDir(db, circuitId);
  if (!dir) throw new Error("the circuit's dataset images are not on this server");
  const engine = await import("~/server/neurflow");
  await engine.initBackend();
  const { tf } = engine;
  const model = await engine.loadModel(row.manifestPath);
  try {
    const S = model.manifest.input.size;
    const loaded = await engine.loadClassImages(
      doc.images.map((n) => join(dir, n)),
      S,
    );
    const images = tf.tidy(() => model.preprocess(tf.tensor4d(loaded.pixels, [doc.images.length, S, S, 3])));
    const withGroups = doc.layers.map((_l, i) => i).filter((i) => doc.layers[i]!.neuronGroups.length > 0);
    let acts: Awaited<ReturnType<typeof engine.computeActivations>>;
    try {
      acts = await engine.computeActivations(
        model.graph,
        images,
        doc.patches,
        withGroups.map((i) => model.layerTensor(doc.layers[i]!.upper)),
        64,
        opts.onProgress,
        () => {
          if (opts.signal?.aborted) throw Object.assign(new Error("canceled"), { name: "AbortError" });
        },
      );
    } finally {
      images.dispose();
    }
    const rowId = new Map(graph.groups.map((g) => [`${g.layer}:${g.groupId}`, g]));
    const inputOf = doc.patches.map((p) => p[0]);
    const groups: Record<string, GroupActivations> = {};
    withGroups.forEach((li, k) => {
      const a = acts[k]!;
      for (const ref of engine.groupReferences(doc, li)) {
        const g = rowId.get(`${li}:${ref.groupId}`);
        if (!g) continue;
        const { perRow } = engine.metricMOfCrops(a.means, a.channels, ref, inputOf, doc.images.length);
        groups[String(g.id)] = summarise(perRow, g.patches);
      }
    });
    const seconds = (Date.now() - started) / 1000;
    const file: PatchActivationsFile = {
      format: "neurflow-patch-activations/1",
      patches: doc.patches.length,
      seconds,
      groups,
    };
    await writeAtomic(activationsPath(root, circuitId), Buffer.from(JSON.stringify(file)));
    return { patches: doc.patches.length, groups: Object.keys(groups).length, seconds };
  } finally {
    model.dispose();
  }
}
