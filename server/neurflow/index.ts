/**
 * The NeurFlow engine's public API. Plain TypeScript on TensorFlow.js; no web concerns. Code outside
 * `server/neurflow/` imports the engine only through this entry or its light part, `./light.ts`
 * (no TensorFlow.js); `npm run lint` enforces it.
 */
export * from "./light";
export { tf } from "./tf";
export { initBackend, backendInfo, BACKEND_NAMES, type BackendInfo, type BackendName } from "./backend";
export { buildCircuit, validateRequest, type ExecutionOptions } from "./circuit";
export { loadModel, type ClassifierModel } from "./model/loadModel";
export { metricM, metricMOfCrops, groupReferences } from "./metricM";
export { conceptPatchesOf, type ConceptPatch } from "./conceptPatches";
export { conceptMatch, spearman, CONCEPT_MATCH_DEFAULTS, type ConceptMatchSide } from "./conceptMatch";
export { patchGrid, type Patch } from "./patches";
export { loadClassImages } from "./images";
export { spatialMean, computeActivations } from "./activations";
export { quadratureRule } from "./quadrature";
export { targetActivation } from "./integratedGradients";
export { maskedLogits, classProbabilities, accuracyOf, layerWidth, type LayerMask } from "./masking";
export { maskGroups, type GroupMaskingResult } from "./groupMasking";
export { debugImages, type DebuggedImage } from "./imageDebugging";
export { loadEvaluationData, checkModelMatches, type EvaluationData } from "./evaluations/evaluationData";
export { withKnockouts } from "./evaluations/knockoutRunner";
export { optimality, OPTIMALITY_DEFAULTS, type OptimalityResult } from "./evaluations/optimality";
export {
  fidelityOfNeurons,
  FIDELITY_OF_NEURONS_DEFAULTS,
  type FidelityOfNeuronsResult,
} from "./evaluations/fidelityOfNeurons";
export {
  fidelityOfWeights,
  FIDELITY_OF_WEIGHTS_DEFAULTS,
  type FidelityOfWeightsResult,
} from "./evaluations/fidelityOfWeights";
export {
  classDependence,
  CLASS_DEPENDENCE_DEFAULTS,
  type ClassDependenceResult,
  type ClassDependenceOptions,
  type GroupDependence,
} from "./evaluations/classDependence";
export {
  faithfulnessCurve,
  FAITHFULNESS_CURVE_DEFAULTS,
  type FaithfulnessCurveResult,
  type FaithfulnessCurvePoint,
} from "./evaluations/faithfulnessCurve";
export { formatClassDependence } from "./evaluations/report";
export { checkOnnxUpload, checkLayersUpload, ModelCheckError } from "./model/inspect";
