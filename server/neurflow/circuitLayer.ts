/**
 * One level of the hypertree (DESIGN §The method): the circuit layer of a layer pair (upper, lower).
 * For each target neuron of the upper layer: its top-k patches by activation, the semantic groups
 * of their lower-layer vectors, integrated gradients of the target w.r.t. the lower layer,
 * importance, the τ core neurons and the edge weights per semantic group; then the neuron groups
 * of all the pair's (target, semantic group) concept vectors. circuit.ts walks the pairs top-down.
 */
import { activationColumn, activationRows, type LayerActivations } from "./activations";
import type { CircuitLayer, CircuitTarget } from "./circuitFormat";
import { channelImportance, selectCoreNeurons, topIndices } from "./coreNeurons";
import { edgeWeights } from "./edgeWeights";
import { sharedLayerMaps } from "./lowerLayerMaps";
import type { ClassifierModel } from "./model/loadModel";
import { conceptVector, neuronGroups, type SemanticGroupVector } from "./neuronGroups";
import type { AttributionRunner } from "./parallel/attributionRunner";
import type { Patch } from "./patches";
import type { MethodParams } from "./presets";
import type { CircuitProgress } from "./runTypes";
import { semanticGroups } from "./semanticGroups";
import type { AttributionKernels, LayerMaps } from "./targetAttribution";
import type { tf } from "./tf";

/** What every layer pair of a run shares. */
export interface CircuitRun {
  model: ClassifierModel;
  images: tf.Tensor4D;
  patches: readonly Patch[];
  params: MethodParams;
  attribution: AttributionRunner;
  /** onnxruntime's kernels where they run the heavy passes, else null. */
  kernels: AttributionKernels | null;
  /** Patches per batch when computing lower-layer maps. */
  batchSize: number;
  mapsBudgetBytes: number;
  stopIfCancelled: () => void;
  report: (p: Omit<CircuitProgress, "fraction">, fraction: number) => void;
}

export interface LayerPair {
  upper: string;
  lower: string;
  upperTensor: string;
  lowerTensor: string;
  upperActivations: LayerActivations;
  lowerActivations: LayerActivations;
  /** The lower layer's maps of every patch, where the activation pass kept them. */
  keptMaps: LayerMaps | undefined;
  /** The run's progress fraction when the pair starts, and the pair's share of it. */
  progress: { base: number; span: number };
}

/** The circuit layer of `pair` for the upper layer's `targets` (no group edges yet). */
export async function buildCircuitLayer(run: CircuitRun, pair: LayerPair, targets: number[]): Promise<CircuitLayer> {
  const { params, attribution, report } = run;
  const { upper, lower, upperActivations: upperActs, lowerActivations: lowerActs } = pair;
  const { base, span } = pair.progress;
  const label = `${upper}←${lower}`;
  const layerStart = performance.now();
  const stage: Record<string, number> = {};
  const topOf = new Map<number, number[]>();
  for (const t of targets) topOf.set(t, topIndices(activationColumn(upperActs, t), params.k));
  stage.ig = 0;
  stage.clustering = 0;
  const out: CircuitTarget[] = [];
  // the lower maps of every patch some target needs, once for the pair (within the budget)
  let t0 = performance.now();
  const maps =
    pair.keptMaps ??
    (await sharedLayerMaps(
      run.model,
      run.images,
      run.patches,
      [...new Set([...topOf.values()].flat())],
      pair.lowerTensor,
      run.batchSize,
      run.mapsBudgetBytes,
      run.kernels,
    ));
  await attribution.setMaps(maps);
  stage.maps = (performance.now() - t0) / 1000;
  // semantic groups first (they depend on the lower activations alone): the decision rule of the
  // integrated gradients checks the edge weights they give
  t0 = performance.now();
  const groupsOf = new Map(
    targets.map((t) => [t, semanticGroups(activationRows(lowerActs, topOf.get(t)!), params.maxSemanticGroups)]),
  );
  stage.clustering += (performance.now() - t0) / 1000;
  // all targets of the pair go to the runner at once; results are taken in target order
  t0 = performance.now();
  const jobs = targets.map((target) => {
    const column = activationColumn(upperActs, target);
    const topPatches = topOf.get(target)!;
    return attribution.run({
      lowerTensor: pair.lowerTensor,
      upperTensor: pair.upperTensor,
      target,
      topPatches,
      topActivations: topPatches.map((p) => column[p]!),
      semanticGroups: groupsOf.get(target)!,
    });
  });
  jobs.forEach((j) => j.catch(() => undefined));
  for (const [ti, target] of targets.entries()) {
    run.stopIfCancelled();
    const top = topOf.get(target)!;
    const ig = await jobs[ti]!;
    stage.ig += (performance.now() - t0) / 1000;
    t0 = performance.now();
    const column = activationColumn(upperActs, target);
    const importance = channelImportance(ig.perPatch, top.length, ig.channels, params.importance);
    const core = selectCoreNeurons(importance, params.tau);
    const groups = groupsOf.get(target)!;
    out.push({
      neuron: target,
      topPatches: top,
      topActivations: top.map((p) => column[p]!),
      semanticGroups: groups,
      importance: Array.from(importance),
      coreNeurons: core,
      edges: edgeWeights(ig.perPatch, ig.channels, groups, core, params.edgeNormalization),
      igCompleteness: ig.completeness,
      igSteps: ig.nodes,
    });
    stage.clustering += (performance.now() - t0) / 1000;
    report(
      {
        stage: "layer",
        layer: label,
        done: ti + 1,
        total: targets.length,
        message: `${label}: target ${ti + 1}/${targets.length}`,
      },
      base + span * 0.95 * ((ti + 1) / targets.length),
    );
    t0 = performance.now();
  }
  t0 = performance.now();
  report(
    { stage: "neuronGroups", layer: label, done: 0, total: 1, message: `${label}: neuron groups` },
    base + span * 0.96,
  );
  const items: SemanticGroupVector[] = [];
  for (const t of out) {
    const vectors = activationRows(lowerActs, t.topPatches);
    for (const g of [...new Set(t.semanticGroups)].sort((a, b) => a - b)) {
      items.push({ neuron: t.neuron, semanticGroup: g, vector: conceptVector(vectors, t.semanticGroups, g) });
    }
  }
  const groups = neuronGroups(items, params.maxNeuronGroups);
  stage.neuronGroups = (performance.now() - t0) / 1000;
  stage.total = (performance.now() - layerStart) / 1000;
  return { upper, lower, targets: out, neuronGroups: groups, groupEdges: [], timings: stage };
}
