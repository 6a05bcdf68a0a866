/**
 * The internal worker API's calls, as one table both sides use: the platform validates every
 * call's input with its schema (server/workers/api.ts) and the worker validates every answer
 * (server/jobs/platform/http.ts). `POST /api/internal/worker/rpc/<op>` with a JSON body; files
 * come from `GET /api/internal/worker/files/…` (fileRefSchema names them).
 */
import { z } from "zod";
import { JOB_KINDS, JOB_STATUSES, MODEL_STATUSES, REVIEW_STATES } from "~/db/schema";
import { EVALUATION_LIMITS } from "~/lib/evaluations/params";
import { imageSetIdPattern } from "~/server/jobs/kinds/evaluation";

/** Where the API lives under the platform's origin. */
export const WORKER_API_PATH = "/api/internal/worker";

export const workerIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, "a worker id is printable ASCII without spaces");
const id = z.number().int().positive();
const plainName = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !s.includes("/") && !s.includes("\\") && !s.startsWith(".") && !s.includes("\0"), {
    message: "a plain file name (no folders, not hidden)",
  });
const jsonRecord = z.record(z.string(), z.unknown());

/** An evaluation image set's file: `<i>.png`. */
export const imageSetFileName = /^(0|[1-9][0-9]{0,3})\.png$/;

/**
 * A file the worker may fetch: where (a model's folder, a dataset's class folder, a circuit's
 * evaluation image set), its name, size and SHA-256.
 */
export const fileRefSchema = z
  .object({
    scope: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("model"), id }).strict(),
      z.object({ kind: z.literal("dataset"), id, className: plainName }).strict(),
      z.object({ kind: z.literal("imageSet"), id, set: z.string().regex(imageSetIdPattern) }).strict(),
    ]),
    name: plainName,
    size: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type FileRef = z.infer<typeof fileRefSchema>;

/** The URL path of a file, below WORKER_API_PATH. */
export function filePath(f: FileRef): string {
  const e = encodeURIComponent;
  switch (f.scope.kind) {
    case "model":
      return `/files/model/${f.scope.id}/${e(f.name)}`;
    case "dataset":
      return `/files/dataset/${f.scope.id}/${e(f.scope.className)}/${e(f.name)}`;
    case "imageSet":
      return `/files/imageSet/${f.scope.id}/${e(f.scope.set)}/${e(f.name)}`;
  }
}

export const jobRecordSchema = z.object({
  id,
  kind: z.enum(JOB_KINDS),
  status: z.enum(JOB_STATUSES),
  payload: z.unknown(),
  attempts: z.number().int().min(0),
  maxAttempts: z.number().int().min(0),
  progress: z.number(),
  message: z.string().nullable(),
  checkpoint: z.unknown(),
  result: z.unknown(),
  error: z.string().nullable(),
  cancelRequested: z.boolean(),
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: z.number().nullable(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
});
const leaseState = z.object({ held: z.boolean(), cancelRequested: z.boolean() });
const ok = z.object({ ok: z.literal(true) });
const worker = { workerId: workerIdSchema };
const onJob = { ...worker, jobId: id };
const leaseMs = z.number().int().min(100).max(3_600_000);
const text = (max: number) => z.string().max(max);

const layerTiming = z
  .object({
    layer: text(400),
    seconds: z.number().min(0),
    stages: z.record(z.string(), z.number()).optional(),
  })
  .strict();

export const runPatchSchema = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    startedAt: z.number().int().min(0).optional(),
    finishedAt: z.number().int().min(0).optional(),
    layerTimings: z.array(layerTiming).max(10_000).optional(),
    error: text(10_000).nullable().optional(),
  })
  .strict();
export type RunPatch = z.infer<typeof runPatchSchema>;

export const labelTargetSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("group"), layer: z.number().int().min(0), group: z.number().int().min(0) }).strict(),
  z
    .object({
      kind: z.literal("edge"),
      layer: z.number().int().min(0),
      child: z.number().int().min(0),
      parent: z.number().int().min(0),
    })
    .strict(),
]);
const headSchema = z.object({
  id,
  text: z.string(),
  description: z.string().nullable(),
  version: z.number().int().min(0),
  review: z.enum(REVIEW_STATES),
  updatedAt: z.number(),
});
const newRevisionSchema = z
  .object({
    expectedVersion: z.number().int().min(0),
    text: text(20_000),
    description: text(20_000).nullable().optional(),
    modelName: text(200).nullable().optional(),
    promptVersion: text(200).nullable().optional(),
    evidence: z.array(z.number().int().min(0)).max(10_000).nullable().optional(),
    promptTokens: z.number().int().min(0).nullable().optional(),
    completionTokens: z.number().int().min(0).nullable().optional(),
  })
  .strict();
const patchBox = z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]);
const circuitForLabels = z.object({
  id,
  className: z.string(),
  inputSize: z.number().int().positive(),
  layers: z.array(z.object({ idx: z.number().int(), upper: z.string(), lower: z.string() })),
  groups: z.array(
    z.object({
      layer: z.number().int(),
      group: z.number().int(),
      rowId: id,
      layerName: z.string(),
      memberCount: z.number().int(),
      patches: z.array(z.number().int()),
    }),
  ),
  edges: z.array(
    z.object({
      layer: z.number().int(),
      child: z.number().int(),
      parent: z.number().int(),
      rowId: id,
      weight: z.number(),
    }),
  ),
  patches: z.array(patchBox),
  imageNames: z.array(z.string()),
});
const refused = z.object({ ok: z.literal(false), error: z.string() });
const modelFilesSchema = z.object({ id, manifest: plainName, files: z.array(fileRefSchema) });
/** Raw pixels, base64 (what a worker stores: heatmaps, false-positive images); lengths are checked by the platform. */
const base64 = (maxBytes: number) => z.base64().max(Math.ceil(maxBytes / 3) * 4);
/** The largest model input side a stored raw image may have. */
export const MAX_RAW_SIDE = 1024;
const visibilityGraphSchema = z.object({
  groups: z.array(
    z.object({ id, layer: z.number().int().min(0), members: z.array(z.object({ neuron: z.number().int().min(0) })) }),
  ),
  edges: z.array(z.object({ id, source: id, target: id, weight: z.number() })),
  logitEdges: z.array(z.object({ group: id })),
});

/** Every call: its input (checked by the platform) and its answer (checked by the worker). */
export const WORKER_OPS = {
  /** First call of a worker: registers it; answers where the queue is and whether it answers. */
  hello: {
    input: z
      .object({
        ...worker,
        host: text(255).min(1),
        backend: text(64).min(1),
        kinds: z.array(z.enum(JOB_KINDS)).min(1),
        version: text(64).nullable().optional(),
      })
      .strict(),
    output: z.object({ queue: z.string(), queueOk: z.boolean(), queueError: z.string().nullable() }),
  },
  /** The worker stops (SIGTERM / SIGINT). */
  bye: { input: z.object(worker).strict(), output: ok },
  reapExpired: { input: z.object(worker).strict(), output: z.array(jobRecordSchema) },
  claim: {
    input: z.object({ ...worker, kinds: z.array(z.enum(JOB_KINDS)).min(1), leaseMs }).strict(),
    output: jobRecordSchema.nullable(),
  },
  renew: { input: z.object({ ...onJob, leaseMs }).strict(), output: leaseState },
  progress: {
    input: z
      .object({
        ...onJob,
        update: z
          .object({ fraction: z.number().min(0).max(1), message: text(2000).optional(), data: jsonRecord.optional() })
          .strict(),
      })
      .strict(),
    output: leaseState,
  },
  log: {
    input: z.object({ ...onJob, message: text(10_000), data: jsonRecord.optional() }).strict(),
    output: leaseState,
  },
  checkpoint: {
    input: z.object({ ...onJob, checkpoint: z.unknown(), data: jsonRecord.optional() }).strict(),
    output: leaseState,
  },
  complete: { input: z.object({ ...onJob, result: z.unknown() }).strict(), output: z.boolean() },
  fail: {
    input: z.object({ ...onJob, error: text(20_000), retryable: z.boolean() }).strict(),
    output: z.enum(["requeued", "failed", "lost"]),
  },
  markCanceled: { input: z.object(onJob).strict(), output: z.boolean() },

  /** A circuit run's inputs: the run's parameters, its model's files and its class images. */
  circuitRun: {
    input: z.object({ ...worker, runId: id }).strict(),
    output: z.discriminatedUnion("ok", [
      refused,
      z.object({
        ok: z.literal(true),
        run: z.object({
          id,
          className: z.string(),
          layers: z.array(z.string()),
          params: jsonRecord,
          layerTimings: z.array(layerTiming),
          startedAt: z.number().nullable(),
        }),
        model: z.object({ id, manifest: plainName, files: z.array(fileRefSchema) }),
        images: z.array(fileRefSchema),
      }),
    ]),
  },
  updateRun: { input: z.object({ ...worker, runId: id, patch: runPatchSchema }).strict(), output: ok },
  /** Stores the run's circuit (checked against neurflow-circuit/1); a second store for the run returns the first id. */
  storeCircuit: {
    input: z.object({ ...worker, runId: id, circuit: z.unknown() }).strict(),
    output: z.object({ circuitId: id }),
  },
  modelFiles: {
    input: z.object({ ...worker, modelId: id }).strict(),
    output: z.object({ manifest: plainName, files: z.array(fileRefSchema) }).nullable(),
  },
  setModelStatus: {
    input: z
      .object({ ...worker, modelId: id, status: z.enum(MODEL_STATUSES).exclude(["validating"]), message: text(10_000) })
      .strict(),
    output: ok,
  },
  /** What labeling a circuit needs: its groups, edges, patches, and its class images. */
  labelInputs: {
    input: z.object({ ...worker, circuitId: id }).strict(),
    output: z.discriminatedUnion("ok", [
      refused,
      z.object({
        ok: z.literal(true),
        data: circuitForLabels,
        /** "rendered": crops drawn as the viewer draws them; "files": an imported circuit's images found in a dataset. */
        mode: z.enum(["rendered", "files"]),
        /** One per circuit image, in the circuit's order. */
        files: z.array(fileRefSchema),
      }),
    ]),
  },
  labelHead: {
    input: z.object({ ...worker, circuitId: id, target: labelTargetSchema }).strict(),
    output: headSchema.nullable(),
  },
  labelSave: {
    input: z.object({ ...worker, circuitId: id, target: labelTargetSchema, revision: newRevisionSchema }).strict(),
    output: z.discriminatedUnion("saved", [
      z.object({ saved: z.literal(true) }),
      z.object({ saved: z.literal(false), expected: z.number().int(), current: headSchema.nullable() }),
    ]),
  },

  /** A neuron group's heatmap inputs: its layer, neurons and patches, the circuit's model and the patches' images (null: not on the platform). */
  heatmapInputs: {
    input: z.object({ ...worker, circuitId: id, group: id }).strict(),
    output: z.discriminatedUnion("ok", [
      refused,
      z.object({
        ok: z.literal(true),
        layer: z.string(),
        neurons: z.array(z.number().int().min(0)),
        inputSize: z.number().int().positive(),
        patches: z.array(
          z.object({
            idx: z.number().int().min(0),
            image: z.string(),
            x: z.number().int(),
            y: z.number().int(),
            size: z.number().int().positive(),
          }),
        ),
        model: modelFilesSchema,
        images: z.array(fileRefSchema).nullable(),
      }),
    ]),
  },
  /** One heatmap of the heatmaps job this worker holds (circuit and group from its payload): raw RGBA, input size × input size. */
  storeHeatmap: {
    input: z.object({ ...onJob, idx: z.number().int().min(0), rgba: base64(MAX_RAW_SIDE * MAX_RAW_SIDE * 4) }).strict(),
    output: ok,
  },
  /** An evaluation's circuit (its neurflow-circuit/1 document, checked by the worker) and its model's files. */
  evaluationCircuit: {
    input: z.object({ ...worker, circuitId: id }).strict(),
    output: z.discriminatedUnion("ok", [
      refused,
      z.object({ ok: z.literal(true), circuit: z.unknown(), model: modelFilesSchema }),
    ]),
  },
  /** The circuit's images in its run's dataset, or null when they are not on the platform. */
  evaluationImages: {
    input: z.object({ ...worker, circuitId: id }).strict(),
    output: z.array(fileRefSchema).nullable(),
  },
  /** Image set `set` of the circuit (`0.png …`), or null when it is not there. */
  imageSetFiles: {
    input: z
      .object({
        ...worker,
        circuitId: id,
        set: z.string().regex(imageSetIdPattern),
        count: z.number().int().min(1).max(EVALUATION_LIMITS.debugImages),
      })
      .strict(),
    output: z.array(fileRefSchema).nullable(),
  },
  /** The image set of an image-debugging result of the circuit, or null. */
  evaluationSource: {
    input: z.object({ ...worker, circuitId: id, evaluationId: id }).strict(),
    output: z.object({ set: z.string().regex(imageSetIdPattern), names: z.array(z.string()) }).nullable(),
  },
  /** What the faithfulness series needs of the concept graph, or null when the circuit is gone. */
  evaluationGraph: {
    input: z.object({ ...worker, circuitId: id }).strict(),
    output: visibilityGraphSchema.nullable(),
  },
  /** A dataset's registered images not of class `exclude`, in registration order, at most `cap`; null without the dataset. */
  otherClassImages: {
    input: z
      .object({
        ...worker,
        datasetId: id,
        exclude: text(255),
        cap: z.number().int().min(1).max(EVALUATION_LIMITS.falsePositiveScan),
      })
      .strict(),
    output: z.object({ datasetName: z.string(), images: z.array(fileRefSchema) }).nullable(),
  },
  /** Stores the false positives of the evaluation job this worker holds as a new image set: raw RGB at the model input size. */
  storeImageSet: {
    input: z
      .object({
        ...onJob,
        images: z
          .array(base64(MAX_RAW_SIDE * MAX_RAW_SIDE * 3))
          .min(1)
          .max(EVALUATION_LIMITS.debugImages),
      })
      .strict(),
    output: z.object({ set: z.string().regex(imageSetIdPattern) }),
  },
  /** Stores the result of the evaluation job this worker holds (circuit, kind and author from its payload), once per job. */
  storeEvaluation: {
    input: z
      .object({
        ...onJob,
        params: jsonRecord,
        result: z.object({ kind: text(64) }).passthrough(),
        seconds: z.number().min(0).max(1e9),
      })
      .strict(),
    output: z.object({ evaluationId: id }),
  },
} as const;

export type WorkerOp = keyof typeof WORKER_OPS;
export type OpInput<O extends WorkerOp> = z.input<(typeof WORKER_OPS)[O]["input"]>;
export type OpOutput<O extends WorkerOp> = z.output<(typeof WORKER_OPS)[O]["output"]>;

/** The JSON error body of every refused call; `code` tells the worker what to do. */
export const apiErrorSchema = z.object({
  error: z.string(),
  code: z.enum([
    "unauthorized",
    "revoked",
    "bad_request",
    "not_found",
    "too_large",
    "unavailable",
    "not_held",
    "rate_limited",
    "internal",
  ]),
});
export type ApiErrorCode = z.infer<typeof apiErrorSchema>["code"];
