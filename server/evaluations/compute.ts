/**
 * Runs an evaluation job's engine work (worker only: the engine and TensorFlow.js are imported
 * here dynamically, so the web process never loads them). Reads the stored circuit as its
 * document, its registered model and its images, and calls the engine's own functions:
 * optimality, fidelityOfNeurons, fidelityOfWeights, debugImages, maskGroups; the faithfulness
 * series (accuracy with only the circuit's visible groups kept, at each viewer threshold) is
 * computed here from the engine's maskedLogits / accuracyOf.
 */
import { eq } from "drizzle-orm";
import { join } from "node:path";
import type { Db } from "~/db/client";
import { circuits, datasets, images as imageRows, models, evaluations } from "~/db/schema";
import { circuitImageDir, loadGraph } from "~/server/circuits/graph";
import { exportCircuit } from "~/server/circuits/store";
import { visibleGroupIds, visibilityKey } from "~/lib/circuits/visibility";
import type { Circuit, ClassifierModel, tf as TF } from "~/server/neurflow";
import { throwIfAborted as checkAbort } from "~/server/neurflow/light";
import type { EvaluationJobPayload } from "~/server/jobs/kinds/evaluation";
import { imageSetDir } from "./store";
import { toModelSize, writeImageSet } from "./uploads";

/** A failure no retry can fix (the circuit or its model is gone, bad images). */
export class EvaluationInputError extends Error {
  override name = "EvaluationInputError";
}

export interface ComputeOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
  log?: (message: string) => Promise<void> | void;
}

export interface ComputedEvaluation {
  params: Record<string, unknown>;
  result: unknown;
  seconds: number;
}

export interface FaithfulnessConfig {
  /** Visible group row ids. */
  groups: number[];
  /** Neurons kept per masked layer (same order as `layers`). */
  neurons: number[];
  accuracy: number;
  /** Random neurons, as many per layer: mean and std of the accuracy over the draws (null without draws). */
  random: { mean: number; std: number; values: number[] } | null;
}

export interface FaithfulnessResult {
  kind: "faithfulness";
  /** Layers where everything outside the visible groups is zeroed (retain), top-down. */
  layers: string[];
  images: number;
  unmaskedAccuracy: number;
  points: { threshold: number; config: number }[];
  configs: FaithfulnessConfig[];
  draws: number;
  seed: number;
  seconds: number;
}

export interface DebugImagesResult {
  kind: "imageDebug";
  /** The engine's ImageDebugResult fields. */
  layer: string;
  threshold: number;
  images: unknown[];
  layerIndex: number;
  /** Where the images are (`<set>/<i>.png`, model input size) and what they were called. */
  set: string;
  names: string[];
  /** For false positives: each image's dataset class. */
  classes?: string[];
  source: "upload" | "falsePositives";
  scanned?: number;
  seconds: number;
}

function manifestPathOf(db: Db, circuitId: number): string {
  const row = db
    .select({ manifestPath: models.manifestPath, status: models.status })
    .from(circuits)
    .innerJoin(models, eq(models.id, circuits.modelId))
    .where(eq(circuits.id, circuitId))
    .get();
  if (!row) throw new EvaluationInputError(`circuit ${circuitId} has no registered model: evaluations need the model`);
  return row.manifestPath;
}

function circuitDoc(db: Db, circuitId: number): Circuit {
  const doc = exportCircuit(db, circuitId);
  if (!doc) throw new EvaluationInputError(`circuit ${circuitId} no longer exists`);
  return doc;
}

function imagesOf(db: Db, circuitId: number): string {
  const dir = circuitImageDir(db, circuitId);
  if (!dir) throw new EvaluationInputError("the circuit's images are not on this server (its dataset is gone)");
  return dir;
}

/** Decodes `<set>/<i>.png` (already the model input size) into normalised images. */
async function loadImageSet(
  root: string,
  circuitId: number,
  set: string,
  count: number,
  model: ClassifierModel,
): Promise<TF.Tensor4D> {
  const { loadClassImages, tf } = await import("~/server/neurflow");
  const S = model.manifest.input.size;
  const dir = imageSetDir(root, circuitId, set);
  const files = Array.from({ length: count }, (_, i) => join(dir, `${i}.png`));
  const loaded = await loadClassImages(files, S).catch((e: Error) => {
    throw new EvaluationInputError(`cannot read the evaluation images: ${e.message}`);
  });
  return tf.tidy(() => model.preprocess(tf.tensor4d(loaded.pixels, [count, S, S, 3])));
}

/** Images of other classes in a dataset that the model assigns to `classIndex`, most confident first. */
async function falsePositives(
  db: Db,
  model: ClassifierModel,
  circuit: Circuit,
  datasetId: number,
  limit: number,
  scanCap: number,
  opts: ComputeOptions,
): Promise<{ raws: Buffer[]; names: string[]; classes: string[]; scanned: number }> {
  const { tf, maskedLogits, classProbabilities } = await import("~/server/neurflow");
  const ds = db.select({ dir: datasets.dir }).from(datasets).where(eq(datasets.id, datasetId)).get();
  if (!ds) throw new EvaluationInputError(`no dataset ${datasetId}`);
  const rows = db
    .select({ className: imageRows.className, fileName: imageRows.fileName })
    .from(imageRows)
    .where(eq(imageRows.datasetId, datasetId))
    .orderBy(imageRows.id)
    .all()
    .filter((r) => r.className !== circuit.class.name)
    .slice(0, scanCap);
  if (rows.length === 0)
    throw new EvaluationInputError(`dataset ${datasetId} has no images of classes other than "${circuit.class.name}"`);
  const S = model.manifest.input.size;
  const found: { raw: Buffer; name: string; cls: string; p: number }[] = [];
  const batch = 32;
  for (let i = 0; i < rows.length; i += batch) {
    checkAbort(opts.signal);
    const part = rows.slice(i, i + batch);
    const raws = await Promise.all(part.map((r) => toModelSize(join(ds.dir, r.className, r.fileName), S)));
    const x = tf.tidy(() =>
      model.preprocess(tf.tensor4d(Float32Array.from(Buffer.concat(raws)), [part.length, S, S, 3])),
    );
    const pred = await maskedLogits(model, x, []);
    x.dispose();
    const probs = classProbabilities(pred, circuit.class.index);
    part.forEach((r, j) => {
      let best = 0;
      for (let c = 1; c < pred.classes; c++)
        if (pred.logits[j * pred.classes + c]! > pred.logits[j * pred.classes + best]!) best = c;
      if (best === circuit.class.index)
        found.push({ raw: raws[j]!, name: `${r.className}/${r.fileName}`, cls: r.className, p: probs[j]! });
    });
    opts.onProgress?.(
      (0.5 * Math.min(rows.length, i + batch)) / rows.length,
      `scanning ${Math.min(rows.length, i + batch)}/${rows.length} images for false positives`,
    );
  }
  found.sort((a, b) => b.p - a.p || (a.name < b.name ? -1 : 1));
  const chosen = found.slice(0, limit);
  return {
    raws: chosen.map((f) => f.raw),
    names: chosen.map((f) => f.name),
    classes: chosen.map((f) => f.cls),
    scanned: rows.length,
  };
}

async function layerWidth(model: ClassifierModel, images: TF.Tensor4D, layer: string): Promise<number> {
  const { tf } = await import("~/server/neurflow");
  const t = tf.tidy(
    () => model.graph.run({ [model.graph.inputName]: images.slice(0, 1) }, [model.layerTensor(layer)])[0]!,
  );
  const w = t.shape[t.rank - 1]!;
  t.dispose();
  return w;
}

/**
 * Accuracy on the circuit's images when, at every layer the viewer shows below the logit, only the
 * neurons of the groups visible at each threshold are kept (retain, all layers at once).
 */
export async function faithfulnessSeries(
  db: Db,
  circuit: Circuit,
  circuitId: number,
  model: ClassifierModel,
  images: TF.Tensor4D,
  params: { thresholds: number[]; draws: number; seed: number },
  opts: ComputeOptions = {},
): Promise<FaithfulnessResult> {
  const started = performance.now();
  const { maskedLogits, accuracyOf, sampleWithoutReplacement, seededRandom, mean, sampleStd } = await import(
    "~/server/neurflow"
  );
  const graph = loadGraph(db, circuitId);
  if (!graph) throw new EvaluationInputError(`circuit ${circuitId} no longer exists`);
  // the viewer's ranks below the logit: layer pairs 1.., whose groups hold channels of their upper layer
  const pairs = circuit.layers.map((_, i) => i).filter((i) => i >= 1);
  const layers = pairs.map((i) => circuit.layers[i]!.upper);
  const widths = await Promise.all(layers.map((l) => layerWidth(model, images, l)));
  const cls = circuit.class.index;
  const configs: FaithfulnessConfig[] = [];
  const byKey = new Map<string, number>();
  const points = params.thresholds.map((threshold) => {
    const groups = visibleGroupIds(graph, threshold);
    const key = visibilityKey(groups);
    let config = byKey.get(key);
    if (config == null) {
      config = configs.length;
      byKey.set(key, config);
      configs.push({ groups, neurons: [], accuracy: NaN, random: null });
    }
    return { threshold, config };
  });
  const total = configs.length * (1 + params.draws) + 1;
  let done = 0;
  const step = (message: string) => opts.onProgress?.(++done / total, message);
  const unmaskedAccuracy = accuracyOf(await maskedLogits(model, images, []), cls);
  step("accuracy without masking");
  const visibleSet = (c: FaithfulnessConfig) => new Set(c.groups);
  for (const [ci, c] of configs.entries()) {
    checkAbort(opts.signal);
    const vis = visibleSet(c);
    const keep = pairs.map((p) =>
      [
        ...new Set(
          graph.groups.filter((g) => g.layer === p && vis.has(g.id)).flatMap((g) => g.members.map((m) => m.neuron)),
        ),
      ].sort((a, b) => a - b),
    );
    c.neurons = keep.map((k) => k.length);
    c.accuracy = accuracyOf(
      await maskedLogits(
        model,
        images,
        layers.map((layer, j) => ({ layer, channels: keep[j]!, mode: "retain" as const })),
      ),
      cls,
    );
    step(`${ci + 1}/${configs.length} visible sets: circuit`);
    if (params.draws > 0) {
      const random = seededRandom((params.seed * 1000003 + ci * 7919) >>> 0);
      const values: number[] = [];
      for (let d = 0; d < params.draws; d++) {
        checkAbort(opts.signal);
        const masks = layers.map((layer, j) => ({
          layer,
          channels: sampleWithoutReplacement(widths[j]!, keep[j]!.length, random),
          mode: "retain" as const,
        }));
        values.push(accuracyOf(await maskedLogits(model, images, masks), cls));
        step(`${ci + 1}/${configs.length} visible sets: random ${d + 1}/${params.draws}`);
      }
      c.random = { mean: mean(values), std: sampleStd(values), values };
    }
  }
  return {
    kind: "faithfulness",
    layers,
    images: images.shape[0],
    unmaskedAccuracy,
    points,
    configs,
    draws: params.draws,
    seed: params.seed,
    seconds: (performance.now() - started) / 1000,
  };
}

export async function computeEvaluation(
  db: Db,
  root: string,
  payload: EvaluationJobPayload,
  opts: ComputeOptions = {},
): Promise<ComputedEvaluation> {
  const started = performance.now();
  const circuit = circuitDoc(db, payload.circuitId);
  const manifestPath = manifestPathOf(db, payload.circuitId);
  const engine = await import("~/server/neurflow");
  await engine.initBackend();
  const { loadEvaluationData, checkModelMatches } = engine;
  const progress = (p: { done: number; total: number; message: string }) =>
    opts.onProgress?.(p.total > 0 ? p.done / p.total : 0, p.message);
  const finish = (params: Record<string, unknown>, result: unknown): ComputedEvaluation => ({
    params,
    result,
    seconds: (performance.now() - started) / 1000,
  });

  if (payload.kind === "imageDebug") {
    const { debugImages } = engine;
    const model = await engine.loadModel(manifestPath);
    try {
      checkModelMatches(circuit, model);
      const S = model.manifest.input.size;
      let set: string;
      let names: string[];
      let classes: string[] | undefined;
      let scanned: number | undefined;
      if (payload.source.kind === "upload") {
        set = payload.source.set;
        names = payload.source.names;
      } else {
        const { EVALUATION_LIMITS } = await import("~/lib/evaluations/params");
        const fp = await falsePositives(
          db,
          model,
          circuit,
          payload.source.datasetId,
          payload.source.limit,
          EVALUATION_LIMITS.falsePositiveScan,
          opts,
        );
        if (fp.raws.length === 0) {
          const name = db
            .select({ name: datasets.name })
            .from(datasets)
            .where(eq(datasets.id, payload.source.datasetId))
            .get()?.name;
          throw new EvaluationInputError(
            `the model assigns none of the ${fp.scanned} images of other classes in dataset ${name ? `"${name}"` : payload.source.datasetId} to "${circuit.class.name}": no false positives`,
          );
        }
        set = await writeImageSet(root, payload.circuitId, fp.raws, S);
        names = fp.names;
        classes = fp.classes;
        scanned = fp.scanned;
        await opts.log?.(`${fp.raws.length} false positives among ${fp.scanned} images of other classes`);
      }
      const images = await loadImageSet(root, payload.circuitId, set, names.length, model);
      try {
        checkAbort(opts.signal);
        const base = payload.source.kind === "falsePositives" ? 0.5 : 0;
        const r = await debugImages(circuit, model, images, {
          layerIndex: payload.params.layerIndex,
          topCrops: payload.params.topCrops,
          threshold: payload.params.threshold,
          onProgress: (d, t) => {
            checkAbort(opts.signal);
            opts.onProgress?.(base + ((1 - base) * d) / Math.max(t, 1), `metric M: ${d}/${t} crops`);
          },
        });
        const result: DebugImagesResult = {
          kind: "imageDebug",
          ...r,
          layerIndex: payload.params.layerIndex,
          set,
          names,
          ...(classes ? { classes } : {}),
          source: payload.source.kind,
          ...(scanned != null ? { scanned } : {}),
          seconds: (performance.now() - started) / 1000,
        };
        return finish(
          {
            ...payload.params,
            source: payload.source.kind === "upload" ? { kind: "upload", images: names.length } : payload.source,
          },
          result,
        );
      } finally {
        images.dispose();
      }
    } finally {
      model.dispose();
    }
  }

  if (payload.kind === "groupMasking" && payload.params.images !== "circuit") {
    const { maskGroups } = engine;
    const sourceId = payload.params.images.debugEvaluation;
    const src = db
      .select({ circuitId: evaluations.circuitId, kind: evaluations.kind, result: evaluations.result })
      .from(evaluations)
      .where(eq(evaluations.id, sourceId))
      .get();
    if (!src || src.circuitId !== payload.circuitId || src.kind !== "imageDebug")
      throw new EvaluationInputError(`no image-debugging result ${sourceId} for this circuit`);
    const { set, names } = src.result as DebugImagesResult;
    const imageDir = circuitImageDir(db, payload.circuitId);
    const data = imageDir ? await loadEvaluationData(circuit, manifestPath, imageDir) : null;
    const model = data?.model ?? (await engine.loadModel(manifestPath));
    try {
      checkModelMatches(circuit, model);
      const images = await loadImageSet(root, payload.circuitId, set, names.length, model);
      try {
        opts.onProgress?.(0.1, "masking");
        const r = await maskGroups(
          circuit,
          model,
          images,
          { ...payload.params, groups: payload.params.groups },
          data && payload.params.topPatches > 0 ? { images: data.images, patches: data.patches } : undefined,
        );
        return finish(payload.params, {
          kind: "groupMasking",
          ...r,
          imageNames: names,
          images: { debugEvaluation: sourceId },
          seconds: (performance.now() - started) / 1000,
        });
      } finally {
        images.dispose();
      }
    } finally {
      if (data) data.dispose();
      else model.dispose();
    }
  }

  const data = await loadEvaluationData(circuit, manifestPath, imagesOf(db, payload.circuitId));
  try {
    switch (payload.kind) {
      case "optimality": {
        const { optimality, withKnockouts } = engine;
        const r = await withKnockouts(data, (runner) =>
          optimality(data.circuit, data.model, data.images, data.patches, {
            ...payload.params,
            runner,
            onProgress: progress,
            signal: opts.signal,
          }),
        );
        return finish(r.params, r);
      }
      case "fidelityOfNeurons": {
        const { fidelityOfNeurons } = engine;
        const r = await fidelityOfNeurons(data.circuit, data.model, data.images, data.classIndex, {
          ...payload.params,
          onProgress: progress,
          signal: opts.signal,
        });
        return finish(r.params, r);
      }
      case "fidelityOfWeights": {
        const { fidelityOfWeights, withKnockouts } = engine;
        const r = await withKnockouts(data, (runner) =>
          fidelityOfWeights(data.circuit, data.model, data.images, data.patches, {
            ...payload.params,
            runner,
            onProgress: progress,
            signal: opts.signal,
          }),
        );
        return finish(r.params, r);
      }
      case "groupMasking": {
        const { maskGroups } = engine;
        opts.onProgress?.(0.1, "masking");
        const r = await maskGroups(
          data.circuit,
          data.model,
          data.images,
          payload.params,
          payload.params.topPatches > 0 ? { images: data.images, patches: data.patches } : undefined,
        );
        return finish(payload.params, {
          kind: "groupMasking",
          ...r,
          imageNames: data.circuit.images,
          images: "circuit",
          seconds: (performance.now() - started) / 1000,
        });
      }
      case "classDependence": {
        const { computeClassDependence } = await import("./classDependence");
        const r = await computeClassDependence(db, root, payload.circuitId, data, payload.params, opts);
        return finish(r.params, r.result);
      }
      case "faithfulness": {
        const r = await faithfulnessSeries(
          db,
          data.circuit,
          payload.circuitId,
          data.model,
          data.images,
          payload.params,
          opts,
        );
        return finish(payload.params, r);
      }
    }
  } finally {
    data.dispose();
  }
  throw new EvaluationInputError(`unknown evaluation kind`);
}
