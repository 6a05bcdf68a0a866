/**
 * Runs an evaluation job's engine work (worker only: the engine and TensorFlow.js are imported
 * here dynamically, so the web process never loads them). Reads the stored circuit as its
 * document, its registered model and its images, and calls the engine's own functions:
 * optimality, fidelityOfNeurons, fidelityOfWeights, debugImages, maskGroups, and
 * faithfulnessCurve with the groups the viewer shows at each threshold (the viewer's rule,
 * lib/circuits/visibility.ts, maps thresholds to kept neurons here).
 */
import { join } from "node:path";
import { FAITHFULNESS_VERSION, type FaithfulnessResult } from "~/lib/evaluations/faithfulness";
import type { Circuit, ClassifierModel, tf as TF } from "~/server/neurflow";
import { throwIfAborted as checkAbort } from "~/server/neurflow/light";
import type { EvaluationJobPayload } from "~/server/jobs/kinds/evaluation";
import { faithfulnessSubsets } from "./faithfulnessSubsets";
import { EvaluationInputError, type EvaluationInputs, type FaithfulnessGraph } from "./inputs";
import { toModelSize } from "./uploads";

export { EvaluationInputError };

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

export type { FaithfulnessConfig, FaithfulnessResult } from "~/lib/evaluations/faithfulness";

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

/** Decodes `<set>/<i>.png` (already the model input size) into normalised images. */
async function loadImageSet(
  inputs: EvaluationInputs,
  circuitId: number,
  set: string,
  count: number,
  model: ClassifierModel,
): Promise<TF.Tensor4D> {
  const { loadClassImages, tf } = await import("~/server/neurflow");
  const S = model.manifest.input.size;
  const dir = await inputs.imageSet(circuitId, set, count);
  const files = Array.from({ length: count }, (_, i) => join(dir, `${i}.png`));
  const loaded = await loadClassImages(files, S).catch((e: Error) => {
    throw new EvaluationInputError(`cannot read the evaluation images: ${e.message}`);
  });
  return tf.tidy(() => model.preprocess(tf.tensor4d(loaded.pixels, [count, S, S, 3])));
}

/** Images of other classes in a dataset that the model assigns to `classIndex`, most confident first. */
async function falsePositives(
  inputs: EvaluationInputs,
  model: ClassifierModel,
  circuit: Circuit,
  datasetId: number,
  limit: number,
  scanCap: number,
  opts: ComputeOptions,
): Promise<{ raws: Buffer[]; names: string[]; classes: string[]; scanned: number; datasetName: string }> {
  const { tf, maskedLogits, classProbabilities } = await import("~/server/neurflow");
  const ds = await inputs.otherClassImages(datasetId, circuit.class.name, scanCap);
  if (!ds) throw new EvaluationInputError(`no dataset ${datasetId}`);
  const rows = ds.images;
  if (rows.length === 0)
    throw new EvaluationInputError(`dataset ${datasetId} has no images of classes other than "${circuit.class.name}"`);
  const S = model.manifest.input.size;
  const found: { raw: Buffer; name: string; cls: string; p: number }[] = [];
  const batch = 32;
  for (let i = 0; i < rows.length; i += batch) {
    checkAbort(opts.signal);
    const part = rows.slice(i, i + batch);
    const raws = await Promise.all(part.map(async (r) => toModelSize(await r.path(), S)));
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
    datasetName: ds.datasetName,
  };
}

/**
 * The faithfulness curve at the viewer's thresholds, in both threshold modes: for each distinct set
 * of groups the viewer shows, the engine's faithfulnessCurve with only those groups' member neurons
 * kept at every layer the viewer shows below the logit (all at once), against random subsets.
 */
export async function faithfulnessSeries(
  graph: FaithfulnessGraph,
  circuit: Circuit,
  model: ClassifierModel,
  images: TF.Tensor4D,
  params: { thresholds: number[]; draws: number; seed: number },
  opts: ComputeOptions = {},
): Promise<FaithfulnessResult> {
  const { faithfulnessCurve, faithfulnessLayers } = await import("~/server/neurflow");
  // every circuit layer below the logit: the viewer's ranks (layer pairs 1.., whose groups hold
  // channels of their upper layer) and the lowest layer
  const layers = faithfulnessLayers(circuit);
  const { configs, series } = faithfulnessSubsets(graph, circuit, params.thresholds);
  const curve = await faithfulnessCurve(circuit, model, images, {
    layers,
    subsets: configs.map((c) => c.keep),
    draws: params.draws,
    seed: params.seed,
    signal: opts.signal,
    onProgress: (p) => opts.onProgress?.(p.total > 0 ? p.done / p.total : 0, p.message),
  });
  return {
    kind: "faithfulness",
    version: FAITHFULNESS_VERSION,
    metric: curve.metric,
    layers: curve.layers,
    widths: curve.widths,
    images: curve.images,
    full: curve.full,
    empty: curve.empty,
    series,
    configs: configs.map((c, i) => {
      const p = curve.points[i]!;
      return {
        groups: c.groups,
        neurons: p.neurons,
        logit: p.logit,
        logitRetained: p.logitRetained,
        accuracy: p.accuracy,
        random: p.random,
      };
    }),
    draws: curve.draws,
    seed: curve.seed,
    interval: curve.interval,
    seconds: curve.seconds,
  };
}

/**
 * Computes an evaluation from its inputs (a local or a remote worker's `EvaluationInputs`); `jobId`
 * is the job computing it (an image set of false positives is stored on its behalf).
 */
export async function computeEvaluation(
  inputs: EvaluationInputs,
  payload: EvaluationJobPayload,
  opts: ComputeOptions = {},
  jobId: number | null = null,
): Promise<ComputedEvaluation> {
  const started = performance.now();
  const { doc: circuit, manifestPath } = await inputs.circuit(payload.circuitId);
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
          inputs,
          model,
          circuit,
          payload.source.datasetId,
          payload.source.limit,
          EVALUATION_LIMITS.falsePositiveScan,
          opts,
        );
        if (fp.raws.length === 0)
          throw new EvaluationInputError(
            `the model assigns none of the ${fp.scanned} images of other classes in dataset "${fp.datasetName}" to "${circuit.class.name}": no false positives`,
          );
        set = await inputs.storeImageSet(jobId, payload.circuitId, fp.raws, S);
        names = fp.names;
        classes = fp.classes;
        scanned = fp.scanned;
        await opts.log?.(`${fp.raws.length} false positives among ${fp.scanned} images of other classes`);
      }
      const images = await loadImageSet(inputs, payload.circuitId, set, names.length, model);
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
    const src = await inputs.debugSource(payload.circuitId, sourceId);
    if (!src) throw new EvaluationInputError(`no image-debugging result ${sourceId} for this circuit`);
    const { set, names } = src;
    const imageDir = await inputs.circuitImages(payload.circuitId, circuit);
    const data = imageDir ? await loadEvaluationData(circuit, manifestPath, imageDir) : null;
    const model = data?.model ?? (await engine.loadModel(manifestPath));
    try {
      checkModelMatches(circuit, model);
      const images = await loadImageSet(inputs, payload.circuitId, set, names.length, model);
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

  const imageDir = await inputs.circuitImages(payload.circuitId, circuit);
  if (!imageDir) throw new EvaluationInputError("the circuit's images are not on this server (its dataset is gone)");
  const data = await loadEvaluationData(circuit, manifestPath, imageDir);
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
        if (!inputs.local)
          throw new EvaluationInputError(
            "the class-dependence report runs on workers of the web machine (it reads the dataset directly)",
          );
        const { db, root } = inputs.local;
        const r = await computeClassDependence(db, root, payload.circuitId, data, payload.params, opts);
        return finish(r.params, r.result);
      }
      case "faithfulness": {
        const graph = await inputs.visibility(payload.circuitId);
        if (!graph) throw new EvaluationInputError(`circuit ${payload.circuitId} no longer exists`);
        const r = await faithfulnessSeries(graph, data.circuit, data.model, data.images, payload.params, opts);
        return finish(payload.params, r);
      }
    }
  } finally {
    data.dispose();
  }
  throw new EvaluationInputError(`unknown evaluation kind`);
}
