/**
 * The concept circuit of a class: the hierarchical hypertree from the class logit down the chosen
 * layers, with semantic groups, edge weights, neuron groups and group edges (DESIGN §The method).
 *
 * Per layer pair (upper, lower), top first (the hypertree walk, `buildCircuit`):
 *   targets = the class logit at the top, then the union of the core neurons found one step up;
 *   the pair's circuit layer (circuitLayer.ts): for each target its top-k patches by activation,
 *   integrated gradients over them w.r.t. the lower layer, importance, the τ core neurons,
 *   semantic groups, edge weights; then the neuron groups of the layer's targets.
 * Activations of every chosen layer are computed once for all patches, keeping the full maps of the
 * lower layers that fit the maps budget; the others' maps only for the patches some target of the
 * pair needs.
 */
import { createHash } from "node:crypto";
import { allocateActivations, outputShapes, type ActivationBuffers } from "./activations";
import { abortError } from "./abort";
import { CircuitInputError } from "./circuitInputError";
import { initBackend, type BackendName } from "./backend";
import { CIRCUIT_FORMAT, type Circuit, type CircuitLayer } from "./circuitFormat";
import { buildCircuitLayer, type CircuitRun, type LayerPair } from "./circuitLayer";
import { loadClassImages } from "./images";
import { mapsToKeep } from "./lowerLayerMaps";
import type { AttributionSettings } from "./targetAttribution";
import {
  defaultWorkerCount,
  inProcessRunner,
  workerPoolRunner,
  type AttributionRunner,
} from "./parallel/attributionRunner";
import { loadModel, type ClassifierModel } from "./model/loadModel";
import { ONNXRUNTIME_ACTIVATION_BATCH, onnxRuntimeApplies, onnxRuntimeKernels } from "./onnxruntime/onnxRuntimeKernels";
import { OnnxRuntimeModel } from "./onnxruntime/onnxRuntimeModel";
import { groupEdges } from "./neuronGroups";
import { patchGrid, type Patch } from "./patches";
import { resolveParams, type MethodParams } from "./presets";
import { embeddedRule, GAUSS_KRONROD_NODES, quadratureRule } from "./quadrature";
import type { CircuitCheckpoint, CircuitProgress, CircuitRequest, CircuitRunOptions } from "./runTypes";
import { tf } from "./tf";

export interface ExecutionOptions {
  /** Patches per forward pass when computing activations. */
  batchSize?: number;
  /** Input elements per integrated-gradients pass (patches × steps × map size). */
  igRowElements?: number;
  /** Worker threads for attribution (0 or 1: in this thread); default from the backend and NEURFLOW_WORKERS. */
  workers?: number;
  /** Largest shared lower-layer map cache per layer pair, in bytes (beyond it, each target computes its own). */
  mapsBudgetBytes?: number;
  /**
   * Run the activation pass and integrated gradients on onnxruntime where it applies (an ONNX model on
   * a CPU backend, onnxruntime-node installed; default true, NEURFLOW_ONNXRUNTIME=0 turns it off).
   */
  onnxRuntime?: boolean;
}

/**
 * Input elements per integrated-gradients pass: GPUs want big batches (on an H200, 2^25 elements
 * ran a ResNet50 layer4 target in 0.21 s against 0.40 s at 2^23); on CPUs speed is flat from 2^22
 * up while memory grows with the batch, and every worker thread holds its own (toyworld-a default
 * circuit, two workers: 2^22 → 62 s and 1.5 GB peak RSS; 2^23 → 62 s and 2.0 GB).
 */
export function defaultIgRowElements(backend: BackendName): number {
  return backend === "webgpu" || backend === "tfjs-node-gpu" ? 2 ** 25 : 2 ** 22;
}

/**
 * Patches per activation batch: 64; on the CPU backends fewer for large inputs, since every worker
 * runs batches and a wasm heap keeps its largest size (ResNet50 at 224 px, two workers: 64 patches
 * a batch → 3.8 GB peak RSS; 13 → 2.3 GB, as fast). GPUs keep 64.
 */
export function activationBatchSize(inputSize: number, backend: BackendName): number {
  if (backend === "webgpu" || backend === "tfjs-node-gpu") return 64;
  return Math.max(1, Math.min(64, Math.floor(2 ** 21 / (inputSize * inputSize * 3))));
}

export function validateRequest(
  model: ClassifierModel,
  req: CircuitRequest,
  params: MethodParams,
): { classIndex: number } {
  const m = model.manifest;
  const classIndex = m.classes.indexOf(req.className);
  if (classIndex < 0) {
    const some = m.classes.slice(0, 10).join(", ");
    throw new CircuitInputError(
      `class "${req.className}" is not in the model's classes (${some}${m.classes.length > 10 ? ", …" : ""})`,
    );
  }
  if (req.layers.length < 2)
    throw new CircuitInputError("a circuit needs at least two layers (top-down, e.g. fc,layer4.1)");
  const order = req.layers.map((name) => {
    const i = m.layers.findIndex((l) => l.name === name);
    if (i < 0)
      throw new CircuitInputError(
        `layer "${name}" is not in the manifest (layers: ${m.layers.map((l) => l.name).join(", ")})`,
      );
    return i;
  });
  for (let i = 1; i < order.length; i++) {
    if (order[i]! >= order[i - 1]!) {
      throw new CircuitInputError(
        `layers must be listed top-down, each below the previous: "${req.layers[i]}" is not below "${req.layers[i - 1]}"`,
      );
    }
  }
  if (!Number.isInteger(params.tau) || params.tau < 1)
    throw new CircuitInputError(`τ must be a positive integer, got ${params.tau}`);
  if (!Number.isInteger(params.k) || params.k < 2)
    throw new CircuitInputError(`k must be an integer ≥ 2, got ${params.k}`);
  if (!Number.isInteger(params.igSteps) || params.igSteps < 1)
    throw new CircuitInputError(`ig steps must be ≥ 1, got ${params.igSteps}`);
  if (params.igMethod === "gausskronrod" && params.igSteps !== GAUSS_KRONROD_NODES)
    throw new CircuitInputError(
      `the Gauss–Kronrod rule has ${GAUSS_KRONROD_NODES} nodes, got ig steps ${params.igSteps} (use gausslegendre for other counts)`,
    );
  if (params.granularities.length === 0 || params.granularities.some((g) => !(g > 0 && g <= 1))) {
    throw new CircuitInputError("granularities must be numbers in (0, 1]");
  }
  if (!(params.strideRatio > 0 && params.strideRatio <= 1))
    throw new CircuitInputError("stride ratio must be in (0, 1]");
  return { classIndex };
}

export function requestKey(
  model: ClassifierModel,
  req: CircuitRequest,
  params: MethodParams,
  images: readonly string[],
): string {
  const doc = {
    model: model.manifest.name,
    classes: model.manifest.classes,
    class: req.className,
    layers: req.layers,
    params,
    images,
  };
  return createHash("sha256").update(JSON.stringify(doc)).digest("hex").slice(0, 32);
}

/** Indices of the images the model assigns to `classIndex` (argmax of the logits). */
async function imagesOfClass(
  model: ClassifierModel,
  images: tf.Tensor4D,
  classIndex: number,
  batchSize: number,
  ortModel: OnnxRuntimeModel | null,
): Promise<number[]> {
  const keep: number[] = [];
  const n = images.shape[0];
  if (ortModel) {
    const [, S, , C] = images.shape;
    for (let i = 0; i < n; i += ONNXRUNTIME_ACTIVATION_BATCH) {
      const x = tf.slice(images, i, Math.min(ONNXRUNTIME_ACTIVATION_BATCH, n - i));
      const pixels = (await x.data()) as Float32Array;
      const rows = x.shape[0];
      x.dispose();
      const logits = (await ortModel.activations(pixels, [rows, S, S, C], [model.logitsTensor], [2], [])).means[0]!;
      const classes = logits.length / rows;
      for (let r = 0; r < rows; r++) {
        // argmax, ties to the lower index (as tf.argMax)
        let best = 0;
        for (let c = 1; c < classes; c++) if (logits[r * classes + c]! > logits[r * classes + best]!) best = c;
        if (best === classIndex) keep.push(i + r);
      }
    }
    return keep;
  }
  for (let i = 0; i < n; i += batchSize) {
    const pred = tf.tidy(() => {
      const x = tf.slice(images, i, Math.min(batchSize, n - i));
      return model.graph.run({ [model.graph.inputName]: x }, [model.logitsTensor])[0]!.argMax(1);
    });
    (await pred.data()).forEach((c, j) => c === classIndex && keep.push(i + j));
    pred.dispose();
  }
  return keep;
}

/** How integrated gradients runs: the quadrature rules, the refinement rule, the batch size. */
function attributionSettings(params: MethodParams, igRowElements: number): AttributionSettings {
  const first = quadratureRule(params.igMethod, params.igSteps);
  const rules = [first];
  // refinement rules are Gauss–Legendre after a Gauss–Kronrod first rule (Kronrod rules are not nested further)
  const finerMethod = params.igMethod === "gausskronrod" ? "gausslegendre" : params.igMethod;
  if (params.igFallbackSteps > params.igSteps) rules.push(quadratureRule(finerMethod, params.igFallbackSteps));
  return {
    rules,
    tolerance: params.igTolerance,
    ...(params.igRefine === "coreSet"
      ? {
          decision: {
            tau: params.tau,
            importance: params.importance,
            edgeNormalization: params.edgeNormalization,
            estimate:
              embeddedRule(first) ?? quadratureRule(params.igMethod, Math.max(1, Math.floor(params.igSteps / 2))),
          },
        }
      : {}),
    igRowElements,
  };
}

/** The activation pass: every chosen layer's activations of every patch, one batch per job, spread over the workers. */
async function activationPass(
  attribution: AttributionRunner,
  buffers: ActivationBuffers,
  patchCount: number,
  activationBatch: number,
  report: (p: Omit<CircuitProgress, "fraction">, fraction: number) => void,
  stopIfCancelled: () => void,
): Promise<void> {
  const batches: [number, number][] = [];
  for (let from = 0; from < patchCount; from += activationBatch)
    batches.push([from, Math.min(patchCount, from + activationBatch)]);
  let filled = 0;
  const fills = batches.map(([from, to]) =>
    attribution.fillActivations(buffers, from, to, activationBatch).then(() => {
      filled++;
      report(
        {
          stage: "activations",
          done: filled,
          total: batches.length,
          message: `activations: batch ${filled}/${batches.length}`,
        },
        0.02 + 0.08 * (filled / batches.length),
      );
    }),
  );
  fills.forEach((f) => f.catch(() => undefined));
  for (const f of fills) {
    stopIfCancelled();
    await f;
  }
}

export async function buildCircuit(
  req: CircuitRequest,
  options: CircuitRunOptions & ExecutionOptions = {},
): Promise<Circuit> {
  const backend = await initBackend();
  const params = resolveParams(req.params);
  const batchSize = options.batchSize ?? 64;
  const started = performance.now();
  const timings: Record<string, number> = {};
  const stopIfCancelled = () => {
    if (options.signal?.aborted) throw abortError("the circuit run was cancelled");
  };
  const report = (p: Omit<CircuitProgress, "fraction">, fraction: number) =>
    options.onProgress?.({ ...p, fraction: Math.min(1, Math.max(0, fraction)) });

  report({ stage: "load", done: 0, total: 1, message: "loading the model" }, 0);
  const model = await loadModel(req.manifestPath);
  let imagesTensor: tf.Tensor4D | null = null;
  let runner: AttributionRunner | null = null;
  let ortModel: OnnxRuntimeModel | null = null;
  try {
    const { classIndex } = validateRequest(model, req, params);
    // the heavy passes on onnxruntime where it applies (null where it is not installed)
    if (options.onnxRuntime !== false && onnxRuntimeApplies(model, backend.name)) {
      ortModel = await OnnxRuntimeModel.open(model.file!, model.manifest.input.name);
    }
    const S = model.manifest.input.size;
    const loaded = await loadClassImages(req.images, S);
    const all = tf.tidy(() => model.preprocess(tf.tensor4d(loaded.pixels, [loaded.names.length, S, S, 3])));
    const keep = await imagesOfClass(model, all, classIndex, batchSize, ortModel);
    // that session (the whole network, up to the logits) is not used again
    await ortModel?.releaseActivationSessions();
    if (keep.length === 0) {
      all.dispose();
      throw new CircuitInputError(
        `none of the ${loaded.names.length} images is classified as "${req.className}" by the model`,
      );
    }
    const images = keep.length === loaded.names.length ? all : tf.tidy(() => tf.gather(all, keep) as tf.Tensor4D);
    imagesTensor = images;
    if (images !== all) all.dispose();
    const imageNames = keep.map((i) => loaded.names[i]!);
    const key = requestKey(model, req, params, imageNames);
    if (options.resume && options.resume.requestKey !== key) {
      throw new Error("the checkpoint belongs to another run (model, images, class, layers or parameters differ)");
    }
    timings.load = (performance.now() - started) / 1000;

    // patches and activations of every chosen layer, once
    const patches: Patch[] = patchGrid(keep.length, S, params.granularities, params.strideRatio);
    if (params.k > patches.length)
      throw new CircuitInputError(
        `k = ${params.k} is more than the ${patches.length} patches of ${keep.length} images`,
      );
    const tensors = req.layers.map((l) => model.layerTensor(l));
    const settings = attributionSettings(params, options.igRowElements ?? defaultIgRowElements(backend.name));
    let t0 = performance.now();
    report({ stage: "activations", done: 0, total: 1, message: `activations of ${patches.length} patches` }, 0.02);
    const mapsBudget = options.mapsBudgetBytes ?? 512 * 2 ** 20;
    // every chosen layer's per-patch shape, from one patch: the buffers' sizes and the maps budget
    const shapes = outputShapes(model.graph, images, patches, tensors);
    const shapeOf = (t: string) => shapes[tensors.indexOf(t)]!;
    const kept = mapsToKeep(
      tensors.slice((options.resume?.layers.length ?? 0) + 1),
      shapeOf,
      patches.length,
      mapsBudget,
    );
    const buffers = allocateActivations(patches.length, tensors, kept, shapeOf);
    const acts = buffers.activations;
    for (let i = 1; i < req.layers.length; i++) {
      if (params.tau > acts[i]!.channels) {
        throw new CircuitInputError(
          `τ = ${params.tau} is larger than layer "${req.layers[i]}", which has ${acts[i]!.channels} channels`,
        );
      }
    }
    if (classIndex >= acts[0]!.channels)
      throw new CircuitInputError(`layer "${req.layers[0]}" has no unit for class ${classIndex}`);

    const workers = options.workers ?? defaultWorkerCount(backend.name);
    const kernels = ortModel
      ? onnxRuntimeKernels(model, images, patches, new Map(tensors.map((t) => [t, shapeOf(t).length + 1])), ortModel)
      : null;
    const backendName = kernels ? `onnxruntime+${backend.name}` : backend.name;
    const attribution: AttributionRunner = kernels
      ? inProcessRunner(model, images, patches, settings, kernels)
      : workers > 1
        ? await workerPoolRunner(
            workers,
            {
              manifestPath: req.manifestPath,
              backend: backend.name,
              pixels: (await images.data()) as Float32Array,
              shape: images.shape,
              patches,
            },
            settings,
          )
        : inProcessRunner(model, images, patches, settings);
    runner = attribution;
    timings.workers = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const activationBatch = options.batchSize ?? kernels?.activationBatch ?? activationBatchSize(S, backend.name);
    await activationPass(attribution, buffers, patches.length, activationBatch, report, stopIfCancelled);
    // the pass's session holds the whole network: the layer pairs need only their slices
    await ortModel?.releaseActivationSessions();
    const keptMaps = new Map(buffers.maps.map((m) => [m.lowerTensor, m]));
    timings.activations = (performance.now() - t0) / 1000;
    // the hypertree, top-down: one circuit layer per layer pair, a checkpoint after each
    const run: CircuitRun = {
      model,
      images,
      patches,
      params,
      attribution,
      kernels,
      batchSize,
      mapsBudgetBytes: mapsBudget,
      stopIfCancelled,
      report,
    };
    const layers: CircuitLayer[] = options.resume ? structuredClone(options.resume.layers) : [];
    const pairs = req.layers.length - 1;
    for (let li = layers.length; li < pairs; li++) {
      // the class logit at the top, then the union of the core neurons found one step up
      const targets =
        li === 0
          ? [classIndex]
          : [...new Set(layers[li - 1]!.targets.flatMap((t) => t.coreNeurons))].sort((a, b) => a - b);
      const lowerTensor = tensors[li + 1]!;
      const pair: LayerPair = {
        upper: req.layers[li]!,
        lower: req.layers[li + 1]!,
        upperTensor: tensors[li]!,
        lowerTensor,
        upperActivations: acts[li]!,
        lowerActivations: acts[li + 1]!,
        keptMaps: keptMaps.get(lowerTensor),
        progress: { base: 0.1 + (0.88 * li) / pairs, span: 0.88 / pairs },
      };
      keptMaps.delete(lowerTensor);
      layers.push(await buildCircuitLayer(run, pair, targets));
      const checkpoint: CircuitCheckpoint = { requestKey: key, layers: structuredClone(layers) };
      await options.onCheckpoint?.(checkpoint);
    }
    // group edges link each layer's neuron groups to the next layer's
    for (let li = 0; li < layers.length; li++) {
      const child = layers[li + 1];
      layers[li]!.groupEdges = child
        ? groupEdges(layers[li]!.targets, layers[li]!.neuronGroups, child.neuronGroups)
        : [];
    }
    timings.total = (performance.now() - started) / 1000;
    report({ stage: "done", done: 1, total: 1, message: "done" }, 1);
    return {
      format: CIRCUIT_FORMAT,
      model: {
        name: model.manifest.name,
        classes: [...model.manifest.classes],
        inputSize: S,
        ...(model.checksum ? { checksum: model.checksum } : {}),
      },
      class: { index: classIndex, name: req.className },
      params: { ...params, layers: [...req.layers], backend: backendName },
      images: imageNames,
      patches,
      layers,
      createdAt: new Date().toISOString(),
      timings,
    };
  } finally {
    await runner?.close();
    await ortModel?.close();
    imagesTensor?.dispose();
    model.dispose();
  }
}
