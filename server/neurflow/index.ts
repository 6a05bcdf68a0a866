/** The NeurFlow engine's public API. Plain TypeScript on TensorFlow.js; no web concerns. */
export { initBackend, backendInfo, BACKEND_NAMES, type BackendInfo, type BackendName } from "./backend";
export { buildCircuit, validateRequest, type ExecutionOptions } from "./circuit";
export { CircuitInputError } from "./circuitInputError";
export * from "./circuitFormat";
export * from "./runTypes";
export { PRESETS, resolveParams, type MethodParams, type PresetName } from "./presets";
export { loadModel, type ClassifierModel } from "./model/loadModel";
export { readManifest, parseManifest, type Manifest } from "./model/manifest";
export { patchGrid, type Patch } from "./patches";
export { compareWithReference, parityFailures, formatParity, PARITY_THRESHOLDS, type ParityFigures, type ReferenceRun } from "./parity";
export { checkOnnxUpload, checkLayersUpload, ModelCheckError } from "./model/inspect";
