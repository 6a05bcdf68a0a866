/**
 * The engine's light entry: the part of its public API that loads no TensorFlow.js (circuit and
 * manifest formats, run types, presets, patch-grid arithmetic, statistics). The web process imports
 * the engine only through here, so TensorFlow.js stays out of it; everything here is also exported
 * by the full entry, `./index.ts`.
 */
export * from "./circuitFormat";
export * from "./runTypes";
export { CircuitInputError } from "./circuitInputError";
export { PRESETS, resolveParams, type MethodParams, type PresetName } from "./presets";
export { readManifest, parseManifest, type Manifest } from "./model/manifest";
export { patchesPerImage } from "./patchGrid";
export { throwIfAborted } from "./abort";
export { IMAGE_EXTENSIONS, listImages } from "./images";
export type { ConceptMatchResult, ConceptMatchGroup } from "./conceptMatch";
export { coreNeuronsAtTau, type LayerCoreNeurons } from "./evaluations/coreNeuronsAtTau";
export type {
  ClassDependenceResult,
  DependenceEffect,
  FalsePositive,
  GroupDependence,
} from "./evaluations/classDependence";
export type {
  FaithfulnessCurveResult,
  FaithfulnessCurvePoint,
  FaithfulnessRandom,
  FaithfulnessReference,
} from "./evaluations/faithfulnessCurve";
export { faithfulnessLayers, lowestCoreNeurons } from "./evaluations/faithfulnessLayers";
export { classDependenceSchema, parseClassDependence } from "./evaluations/classDependenceFormat";
export { seededRandom, sampleWithoutReplacement, type Random } from "./evaluations/sampling";
export { mean, sampleStd } from "./evaluations/statistics";
export {
  compareWithReference,
  parityFailures,
  formatParity,
  PARITY_THRESHOLDS,
  type ParityFigures,
  type ReferenceRun,
} from "./parity";
export { createProgressBar, type ProgressBar } from "./cli/progressBar";
