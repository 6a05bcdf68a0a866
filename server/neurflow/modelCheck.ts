/**
 * The engine's third entry: the structural check of an uploaded model (ONNX graph or TF.js
 * topology, the manifest's tensors and class count), for the web server's upload route. It parses
 * the graph without running it, and pulls in neither the backends nor the worker pool (which the
 * Next server bundle cannot hold).
 */
export { checkLayersUpload, checkOnnxUpload, ModelCheckError } from "./model/inspect";
