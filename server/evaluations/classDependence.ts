/**
 * The class-dependence report of a stored circuit on the platform (worker only; the engine is
 * imported inside the function): the circuit's own images as the class images, and `perClass`
 * images of every other class of a registered dataset (default: the circuit's own dataset), in
 * dataset order, as the other classes' images; then the engine's `classDependence`.
 */
import { join } from "node:path";
import { asc, eq } from "drizzle-orm";
import type { Db } from "~/db/client";
import { circuits, datasets, images as imageRows, runs } from "~/db/schema";
import type { z } from "zod";
import type { classDependenceParams } from "~/lib/evaluations/params";
import type { ClassDependenceResult, EvaluationData } from "~/server/neurflow";
import type { ComputeOptions } from "./compute";
import { EvaluationInputError } from "./compute";
import { writeImageSet } from "./uploads";

type Params = z.infer<typeof classDependenceParams>;

/** The dataset the other classes' images come from: the given one, or the circuit's own. */
function datasetOf(db: Db, circuitId: number, datasetId: number | undefined) {
  const id =
    datasetId ??
    db
      .select({ id: runs.datasetId })
      .from(circuits)
      .innerJoin(runs, eq(runs.id, circuits.runId))
      .where(eq(circuits.id, circuitId))
      .get()?.id;
  if (id == null)
    throw new EvaluationInputError("the circuit has no dataset on this server: name one for the other classes' images");
  const ds = db
    .select({ id: datasets.id, name: datasets.name, dir: datasets.dir })
    .from(datasets)
    .where(eq(datasets.id, id))
    .get();
  if (!ds) throw new EvaluationInputError(`no dataset ${id}`);
  return ds;
}

export async function computeClassDependence(
  db: Db,
  root: string,
  circuitId: number,
  data: EvaluationData,
  params: Params,
  opts: ComputeOptions = {},
): Promise<{
  params: Record<string, unknown>;
  result: ClassDependenceResult & {
    dataset: { id: number; name: string };
    /** The false positives (and near misses) as an image set: `<set>/<i>.png` is `falsePositives[i]`. */
    falsePositiveImages: { set: string } | null;
  };
}> {
  const { classDependence, loadClassImages, tf } = await import("~/server/neurflow");
  const ds = datasetOf(db, circuitId, params.datasetId);
  const classes = data.model.manifest.classes;
  const cls = data.circuit.class.name;
  const rows = db
    .select({ className: imageRows.className, fileName: imageRows.fileName })
    .from(imageRows)
    .where(eq(imageRows.datasetId, ds.id))
    .orderBy(asc(imageRows.id))
    .all()
    .filter((r) => r.className !== cls && classes.includes(r.className));
  const taken = new Map<string, number>();
  const chosen = rows.filter((r) => {
    const n = taken.get(r.className) ?? 0;
    if (n >= params.perClass) return false;
    taken.set(r.className, n + 1);
    return true;
  });
  if (chosen.length === 0)
    throw new EvaluationInputError(
      `dataset "${ds.name}" has no images of the model's other classes (folders named after ${classes.filter((c) => c !== cls).join(", ")})`,
    );
  await opts.log?.(`${chosen.length} images of ${taken.size} other classes from dataset "${ds.name}"`);
  const S = data.model.manifest.input.size;
  const loaded = await loadClassImages(
    chosen.map((r) => join(ds.dir, r.className, r.fileName)),
    S,
  ).catch((e: Error) => {
    throw new EvaluationInputError(`cannot read the other classes' images: ${e.message}`);
  });
  const otherImages = tf.tidy(() => data.model.preprocess(tf.tensor4d(loaded.pixels, [chosen.length, S, S, 3])));
  try {
    const report = await classDependence(
      data.circuit,
      data.model,
      {
        classImages: data.images,
        otherImages,
        otherNames: chosen.map((r) => `${r.className}/${r.fileName}`),
        otherClasses: chosen.map((r) => classes.indexOf(r.className)),
      },
      {
        draws: params.draws,
        seed: params.seed,
        falsePositives: params.falsePositives,
        signal: opts.signal,
        onProgress: (p) => opts.onProgress?.(p.total > 0 ? p.done / p.total : 0, p.message),
      },
    );
    // the false positives the report names, kept as pictures (the evaluation-image route serves them)
    const px = S * S * 3;
    const raws = report.falsePositives.map((f) =>
      Buffer.from(Uint8Array.from(loaded.pixels.subarray(f.image * px, (f.image + 1) * px))),
    );
    const set = raws.length ? await writeImageSet(root, circuitId, raws, S) : null;
    return {
      params: { ...params, datasetId: ds.id },
      result: { ...report, dataset: { id: ds.id, name: ds.name }, falsePositiveImages: set ? { set } : null },
    };
  } finally {
    otherImages.dispose();
  }
}
