/**
 * Parameters of the evaluations and applications a circuit can be put through, validated with zod
 * at the boundary (router) and again in the worker (job payload). Isomorphic: the start forms use
 * the same defaults and limits. Defaults are the engine's (the paper's); every one can be
 * overridden per request, within the caps below. Checks that need the circuit (layer pairs, k,
 * τ against the circuit's τ, groups) are in `checkAgainstCircuit`.
 */
import { z } from "zod";

export const EVALUATION_KIND_LIST = [
  "optimality",
  "fidelityOfNeurons",
  "fidelityOfWeights",
  "imageDebug",
  "groupMasking",
  "faithfulness",
  "classDependence",
] as const;
export type EvaluationKindName = (typeof EVALUATION_KIND_LIST)[number];

export const EVALUATION_TITLES: Record<EvaluationKindName, string> = {
  optimality: "Optimality of core neurons",
  fidelityOfNeurons: "Fidelity of neurons",
  fidelityOfWeights: "Fidelity of edge weights",
  imageDebug: "Image debugging",
  groupMasking: "Group masking",
  faithfulness: "Faithfulness at the viewer's thresholds",
  classDependence: "Class dependence",
};

/** Caps per request: what one job may ask for. */
export const EVALUATION_LIMITS = {
  taus: 8,
  tau: 2048,
  targets: 50,
  weightTargets: 20,
  randomSets: 1000,
  k: 500,
  neuronDraws: 50,
  setSizes: 8,
  setSize: 2048,
  pairs: 64,
  debugImages: 32,
  topCrops: 20,
  maskDraws: 100,
  maskGroups: 200,
  topPatches: 50,
  thresholds: 201,
  faithfulnessDraws: 200,
  falsePositiveScan: 5000,
  dependenceDraws: 1000,
  dependencePerClass: 64,
  dependenceFalsePositives: 64,
} as const;

/** The engine's defaults (tests/integration/evaluations.test.ts checks they equal the engine's constants). */
export const EVALUATION_DEFAULTS = {
  optimality: { taus: [10, 30, 50], targets: 5, randomSets: 100, k: 50, seed: 0 },
  fidelityOfNeurons: {
    taus: [4, 8, 16],
    modes: ["mask", "retain"] as ("mask" | "retain")[],
    scopes: ["single", "multi"] as ("single" | "multi")[],
    baseline: "random" as "random" | "neuronmct",
    draws: 5,
    seed: 0,
  },
  fidelityOfWeights: { targets: 1, setSizes: [1, 5, 10, 20, 50], randomSets: 500, k: 50, seed: 0 },
  imageDebug: { topCrops: 5, threshold: 0.6 },
  groupMasking: { draws: 5, seed: 0, topPatches: 10 },
  faithfulness: { draws: 50, seed: 0 },
  /** The engine's CLASS_DEPENDENCE_DEFAULTS (draws, seed, false positives); images per other class: the platform's. */
  classDependence: { draws: 200, seed: 0, falsePositives: 16, perClass: 16 },
};

/** The viewer slider's thresholds: 0, 0.01, …, 1. */
export const SLIDER_THRESHOLDS = Array.from({ length: 101 }, (_, i) => i / 100);

/**
 * Default τ values of an optimality run on a circuit of core-set size `tau`: the circuit's own τ
 * (are the core sets it uses better than random sets of their size?) and twice it (does the ranking
 * still beat chance further down?). The engine's own defaults, the paper's 10, 30, 50, are for
 * circuits with a τ of that order; on a τ 3 circuit they tested sets the circuit never uses.
 */
export function optimalityTaus(tau: number): number[] {
  return [...new Set([tau, 2 * tau].filter((t) => t >= 1 && t <= EVALUATION_LIMITS.tau))];
}

const L = EVALUATION_LIMITS;
const seed = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1);
const unique = <T>(a: T[]) => new Set(a).size === a.length;
const uniqueList = <S extends z.ZodType>(item: S, max: number, what: string) =>
  z
    .array(item)
    .min(1, `give at least one ${what}`)
    .max(max, `at most ${max} ${what} values`)
    .refine((a) => unique(a), `${what} values must differ`);
const pairs = uniqueList(z.number().int().min(0).max(1000), L.pairs, "layer pair");

export const optimalityParams = z
  .object({
    pairs: pairs.optional(),
    /** Default: the circuit's τ and twice it (`optimalityTaus`, resolved by `checkAgainstCircuit`). */
    taus: uniqueList(z.number().int().min(1).max(L.tau), L.taus, "τ").optional(),
    targets: z.number().int().min(1).max(L.targets).default(EVALUATION_DEFAULTS.optimality.targets),
    randomSets: z
      .number()
      .int()
      .min(1)
      .max(L.randomSets, `at most ${L.randomSets} random sets`)
      .default(EVALUATION_DEFAULTS.optimality.randomSets),
    k: z.number().int().min(1).max(L.k).default(EVALUATION_DEFAULTS.optimality.k),
    seed: seed.default(EVALUATION_DEFAULTS.optimality.seed),
  })
  .strict();

export const fidelityOfNeuronsParams = z
  .object({
    /** Default: the engine's [4, 8, 16] that are ≤ the circuit's τ, or the circuit's τ (resolved by `resolveParams`). */
    taus: uniqueList(z.number().int().min(1).max(L.tau), L.taus, "τ").optional(),
    modes: uniqueList(z.enum(["mask", "retain"]), 2, "mode").default(() => [
      ...EVALUATION_DEFAULTS.fidelityOfNeurons.modes,
    ]),
    scopes: uniqueList(z.enum(["single", "multi"]), 2, "scope").default(() => [
      ...EVALUATION_DEFAULTS.fidelityOfNeurons.scopes,
    ]),
    baseline: z.enum(["random", "neuronmct"]).default(EVALUATION_DEFAULTS.fidelityOfNeurons.baseline),
    draws: z.number().int().min(1).max(L.neuronDraws).default(EVALUATION_DEFAULTS.fidelityOfNeurons.draws),
    seed: seed.default(EVALUATION_DEFAULTS.fidelityOfNeurons.seed),
  })
  .strict();

export const fidelityOfWeightsParams = z
  .object({
    pairs: pairs.optional(),
    targets: z.number().int().min(1).max(L.weightTargets).default(EVALUATION_DEFAULTS.fidelityOfWeights.targets),
    setSizes: uniqueList(z.number().int().min(1).max(L.setSize), L.setSizes, "set size").default(() => [
      ...EVALUATION_DEFAULTS.fidelityOfWeights.setSizes,
    ]),
    randomSets: z
      .number()
      .int()
      .min(2)
      .max(L.randomSets, `at most ${L.randomSets} random sets`)
      .default(EVALUATION_DEFAULTS.fidelityOfWeights.randomSets),
    k: z.number().int().min(1).max(L.k).default(EVALUATION_DEFAULTS.fidelityOfWeights.k),
    seed: seed.default(EVALUATION_DEFAULTS.fidelityOfWeights.seed),
  })
  .strict();

/** Image debugging: which images is given separately (uploads, or a dataset's false positives). */
export const imageDebugParams = z
  .object({
    layerIndex: z.number().int().min(0).max(1000),
    topCrops: z.number().int().min(1).max(L.topCrops).default(EVALUATION_DEFAULTS.imageDebug.topCrops),
    threshold: z.number().min(0).max(1).default(EVALUATION_DEFAULTS.imageDebug.threshold),
  })
  .strict();

export const groupMaskingParams = z
  .object({
    layerIndex: z.number().int().min(0).max(1000),
    /** Document group ids of the layer, or "core": every core neuron of the layer. */
    groups: z.union([z.literal("core"), uniqueList(z.number().int().min(0).max(1_000_000), L.maskGroups, "group")]),
    draws: z.number().int().min(1).max(L.maskDraws).default(EVALUATION_DEFAULTS.groupMasking.draws),
    seed: seed.default(EVALUATION_DEFAULTS.groupMasking.seed),
    topPatches: z.number().int().min(0).max(L.topPatches).default(EVALUATION_DEFAULTS.groupMasking.topPatches),
    /** The circuit's own images, or the images of an image-debugging result of the same circuit. */
    images: z
      .union([z.literal("circuit"), z.object({ debugEvaluation: z.number().int().positive() }).strict()])
      .default("circuit"),
  })
  .strict();

export const faithfulnessParams = z
  .object({
    thresholds: z
      .array(z.number().min(0).max(1))
      .min(1)
      .max(L.thresholds, `at most ${L.thresholds} thresholds`)
      .default(() => [...SLIDER_THRESHOLDS]),
    /** Random draws of as many neurons per layer, per distinct size (0: no random baseline). */
    draws: z.number().int().min(0).max(L.faithfulnessDraws).default(EVALUATION_DEFAULTS.faithfulness.draws),
    seed: seed.default(EVALUATION_DEFAULTS.faithfulness.seed),
  })
  .strict();

/** Class dependence (docs/evaluations.md): the other classes' images come from a registered dataset. */
export const classDependenceParams = z
  .object({
    /** Random neuron sets per (layer, group size). */
    draws: z
      .number()
      .int()
      .min(20, "at least 20 random sets (with fewer, p cannot go below 0.05)")
      .max(L.dependenceDraws, `at most ${L.dependenceDraws} random sets`)
      .default(EVALUATION_DEFAULTS.classDependence.draws),
    seed: seed.default(EVALUATION_DEFAULTS.classDependence.seed),
    /** Images of each other class, in dataset order. */
    perClass: z.number().int().min(1).max(L.dependencePerClass).default(EVALUATION_DEFAULTS.classDependence.perClass),
    falsePositives: z
      .number()
      .int()
      .min(1)
      .max(L.dependenceFalsePositives)
      .default(EVALUATION_DEFAULTS.classDependence.falsePositives),
    /** The dataset whose other classes' folders are read (default: the circuit's own dataset). */
    datasetId: z.number().int().positive().optional(),
  })
  .strict();

/** What `evaluations.start` takes (image debugging with uploads goes through `startImageDebug`, FormData). */
export const evaluationRequest = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("optimality"), params: optimalityParams.prefault({}) }),
  z.object({ kind: z.literal("fidelityOfNeurons"), params: fidelityOfNeuronsParams.prefault({}) }),
  z.object({ kind: z.literal("fidelityOfWeights"), params: fidelityOfWeightsParams.prefault({}) }),
  z.object({ kind: z.literal("groupMasking"), params: groupMaskingParams }),
  z.object({ kind: z.literal("faithfulness"), params: faithfulnessParams.prefault({}) }),
  z.object({ kind: z.literal("classDependence"), params: classDependenceParams.prefault({}) }),
  z.object({
    kind: z.literal("imageDebug"),
    params: imageDebugParams,
    /** A registered dataset whose images of other classes the model assigns to the circuit's class. */
    falsePositives: z
      .object({ datasetId: z.number().int().positive(), limit: z.number().int().min(1).max(L.debugImages).default(16) })
      .strict(),
  }),
]);
export type EvaluationRequest = z.infer<typeof evaluationRequest>;

export type ImageDebugParams = z.infer<typeof imageDebugParams>;

/** What the checks need to know of a stored circuit. */
export interface CircuitFacts {
  id: number;
  tau: number;
  patchCount: number;
  imageCount: number;
  modelId: number | null;
  hasImages: boolean;
  layers: { upper: string; lower: string; groupIds: number[] }[];
}

export class EvaluationParamsError extends Error {
  override name = "EvaluationParamsError";
}

function checkPairs(facts: CircuitFacts, p: number[] | undefined): void {
  for (const i of p ?? [])
    if (i >= facts.layers.length)
      throw new EvaluationParamsError(
        `the circuit has no layer pair ${i} (it has ${facts.layers.length}: 0–${facts.layers.length - 1})`,
      );
}

function checkK(facts: CircuitFacts, k: number): void {
  if (k > facts.patchCount)
    throw new EvaluationParamsError(`k = ${k} is more than the circuit's ${facts.patchCount} patches`);
}

function checkLayer(facts: CircuitFacts, layerIndex: number): void {
  const layer = facts.layers[layerIndex];
  if (!layer)
    throw new EvaluationParamsError(
      `the circuit has no layer pair ${layerIndex} (it has ${facts.layers.length}: 0–${facts.layers.length - 1})`,
    );
  if (layer.groupIds.length === 0) throw new EvaluationParamsError(`layer "${layer.upper}" has no neuron groups`);
}

/**
 * Fills defaults that depend on the circuit and checks the parameters against it; throws
 * EvaluationParamsError with a message for the user. `tauCheck` is the engine's own check of a
 * fidelity τ against the circuit (coreNeuronsAtTau), passed in so this module stays isomorphic.
 */
export function checkAgainstCircuit<R extends EvaluationRequest | { kind: "imageDebug"; params: ImageDebugParams }>(
  facts: CircuitFacts,
  request: R,
  tauCheck?: (tau: number) => void,
): R {
  if (facts.modelId == null)
    throw new EvaluationParamsError(
      "this circuit has no registered model (an imported document): evaluations need the model",
    );
  switch (request.kind) {
    case "optimality":
    case "fidelityOfWeights": {
      checkPairs(facts, request.params.pairs);
      checkK(facts, request.params.k);
      if (!facts.hasImages)
        throw new EvaluationParamsError("the circuit's images are not on this server (its dataset is gone)");
      if (request.kind === "optimality" && !request.params.taus)
        return { ...request, params: { ...request.params, taus: optimalityTaus(facts.tau) } };
      return request;
    }
    case "fidelityOfNeurons": {
      if (!facts.hasImages)
        throw new EvaluationParamsError("the circuit's images are not on this server (its dataset is gone)");
      let taus = request.params.taus;
      if (!taus) {
        taus = EVALUATION_DEFAULTS.fidelityOfNeurons.taus.filter((t) => t <= facts.tau);
        if (taus.length === 0) taus = [facts.tau];
      }
      for (const t of taus) tauCheck?.(t);
      for (const t of taus)
        if (t > facts.tau)
          throw new EvaluationParamsError(
            `τ = ${t} is larger than the circuit's τ = ${facts.tau}: compute a circuit with τ ≥ ${t} first`,
          );
      return { ...request, params: { ...request.params, taus } };
    }
    case "imageDebug":
      checkLayer(facts, request.params.layerIndex);
      return request;
    case "groupMasking": {
      const p = request.params;
      const layer = facts.layers[p.layerIndex];
      if (!layer)
        throw new EvaluationParamsError(
          `the circuit has no layer pair ${p.layerIndex} (it has ${facts.layers.length}: 0–${facts.layers.length - 1})`,
        );
      if (p.groups === "core") {
        if (p.layerIndex === 0)
          throw new EvaluationParamsError(
            `layer "${layer.upper}" is the class logit; its core neurons are the logit itself`,
          );
      } else {
        const missing = p.groups.filter((g) => !layer.groupIds.includes(g));
        if (missing.length)
          throw new EvaluationParamsError(
            `layer "${layer.upper}" has no neuron group ${missing.join(", ")} (it has ${layer.groupIds.join(", ") || "none"})`,
          );
      }
      if (p.images === "circuit" && !facts.hasImages)
        throw new EvaluationParamsError("the circuit's images are not on this server (its dataset is gone)");
      if (p.images === "circuit" && p.topPatches > 0 && facts.patchCount === 0)
        throw new EvaluationParamsError("the circuit has no patches");
      return request;
    }
    case "faithfulness":
      if (!facts.hasImages)
        throw new EvaluationParamsError("the circuit's images are not on this server (its dataset is gone)");
      if (facts.layers.length < 2)
        throw new EvaluationParamsError(
          "the circuit has one layer pair: there is no layer below the logit to keep the circuit's neurons in",
        );
      return request;
    case "classDependence":
      if (!facts.hasImages)
        throw new EvaluationParamsError("the circuit's images are not on this server (its dataset is gone)");
      if (facts.layers.length < 2 || facts.layers.slice(1).every((l) => l.groupIds.length === 0))
        throw new EvaluationParamsError(
          "the circuit has no neuron groups below the logit: there is nothing to mask (compute a circuit with two layer pairs or more)",
        );
      return request;
  }
  return request;
}

/** Work units a request asks for (knockouts or forward passes), for the forms' cost hint. */
export function estimateUnits(
  kind: EvaluationKindName,
  params: Record<string, unknown>,
  facts: { layers: number; tau: number; groups?: number },
): number {
  const p = params as Record<string, number & number[]>;
  switch (kind) {
    case "optimality": {
      const pairs = (p.pairs as number[] | undefined)?.length ?? facts.layers;
      return pairs * (p.targets ?? 5) * (p.taus?.length ?? 3) * ((p.randomSets ?? 100) + 1);
    }
    case "fidelityOfNeurons":
      return (
        (p.taus?.length ?? 3) * (p.modes?.length ?? 2) * (p.scopes?.length ?? 2) * facts.layers * (1 + (p.draws ?? 5))
      );
    case "fidelityOfWeights": {
      const pairs = (p.pairs as number[] | undefined)?.length ?? facts.layers;
      return pairs * (p.targets ?? 1) * (p.setSizes?.length ?? 5) * ((p.randomSets ?? 500) + 1);
    }
    case "faithfulness": {
      // visible sets are nested in each of the two modes: at most one per group (+1) and per threshold
      const perMode = Math.min(p.thresholds?.length ?? 101, (facts.groups ?? Number.POSITIVE_INFINITY) + 1);
      return 2 + 2 * perMode * (1 + (p.draws ?? EVALUATION_DEFAULTS.faithfulness.draws));
    }
    case "classDependence":
      return (1 + (p.draws ?? 200)) * facts.layers;
    default:
      return 1;
  }
}
