/** Upload limits (overridable through the environment, in bytes / counts). */
function num(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

export const limits = {
  /** One model file (ONNX, or all TF.js weight files together). */
  modelBytes: num("NEURFLOW_MAX_MODEL_BYTES", 512 * 1024 * 1024),
  manifestBytes: 1024 * 1024,
  /** A dataset zip as uploaded. */
  zipBytes: num("NEURFLOW_MAX_ZIP_BYTES", 512 * 1024 * 1024),
  /** Sum of the declared uncompressed sizes of a zip's entries. */
  unzippedBytes: num("NEURFLOW_MAX_UNZIPPED_BYTES", 1024 * 1024 * 1024),
  /** Largest allowed uncompressed / compressed ratio of one entry (zip bombs reach 1000+). */
  zipRatio: 100,
  zipEntries: 50_000,
  imageBytes: 20 * 1024 * 1024,
  imagesPerClass: 10_000,
  images: 50_000,
  classes: 1000,
  imageMinSide: 8,
  imageMaxSide: 4096,
  /** A whole multipart request body (Content-Length checked before reading; a chunked body counted as it streams to disk). */
  requestBytes: num("NEURFLOW_MAX_REQUEST_BYTES", 1024 * 1024 * 1024),
  /** A non-multipart (JSON) request body with a valid session: read into memory (a circuit import can be large). */
  jsonBytes: num("NEURFLOW_MAX_JSON_BYTES", 64 * 1024 * 1024),
  /** One call of a worker to the internal API (a checkpoint, a finished circuit). */
  workerJsonBytes: num("NEURFLOW_MAX_WORKER_JSON_BYTES", 64 * 1024 * 1024),
  /** A non-multipart request body without a valid session (sign-in, setup): small. */
  anonymousJsonBytes: num("NEURFLOW_MAX_ANON_JSON_BYTES", 64 * 1024),
  /** Calls in one tRPC batch request. */
  batchCalls: num("NEURFLOW_MAX_BATCH_CALLS", 20),
  /** Decoded pixels (width × height, from the image headers, before any decode) of one dataset upload or folder. */
  uploadPixels: num("NEURFLOW_MAX_UPLOAD_PIXELS", 1_000_000_000),
  /** Decoded pixels of one image. */
  imagePixels: num("NEURFLOW_MAX_IMAGE_PIXELS", 4096 * 4096),
};

export class UploadError extends Error {
  override name = "UploadError";
}
