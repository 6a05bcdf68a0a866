/**
 * The `evaluation` job: one of the paper's evaluations, group masking, image debugging or the
 * faithfulness curve of a circuit (handler: server/jobs/handlers/evaluationJob.ts). Validated when
 * queued and again by the worker: a bad payload fails the job at once and stores nothing.
 */
import { z } from "zod";
import {
  classDependenceParams,
  faithfulnessParams,
  fidelityOfNeuronsParams,
  fidelityOfWeightsParams,
  groupMaskingParams,
  imageDebugParams,
  optimalityParams,
  EVALUATION_LIMITS,
} from "~/lib/evaluations/params";
import { defineJob } from "./defineJob";

/** Uploaded image sets are stored under a random UUID. */
export const imageSetIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const base = { circuitId: z.number().int().positive(), createdBy: z.number().int().positive().nullable() };

/** Where image debugging takes its images from. */
export const imageSource = z.discriminatedUnion("kind", [
  /** Uploaded images, already checked and stored at the model input size as `<set>/<i>.png`. */
  z
    .object({
      kind: z.literal("upload"),
      set: z.string().regex(imageSetIdPattern),
      names: z.array(z.string().min(1).max(255)).min(1).max(EVALUATION_LIMITS.debugImages),
    })
    .strict(),
  /** Images of other classes in a registered dataset that the model assigns to the circuit's class. */
  z
    .object({
      kind: z.literal("falsePositives"),
      datasetId: z.number().int().positive(),
      limit: z.number().int().min(1).max(EVALUATION_LIMITS.debugImages),
    })
    .strict(),
]);

const evaluationJobPayload = z.discriminatedUnion("kind", [
  z.object({ ...base, kind: z.literal("optimality"), params: optimalityParams }),
  z.object({
    ...base,
    kind: z.literal("fidelityOfNeurons"),
    params: fidelityOfNeuronsParams.extend({ taus: fidelityOfNeuronsParams.shape.taus.unwrap() }),
  }),
  z.object({ ...base, kind: z.literal("fidelityOfWeights"), params: fidelityOfWeightsParams }),
  z.object({ ...base, kind: z.literal("groupMasking"), params: groupMaskingParams }),
  z.object({ ...base, kind: z.literal("faithfulness"), params: faithfulnessParams }),
  z.object({ ...base, kind: z.literal("classDependence"), params: classDependenceParams }),
  z.object({ ...base, kind: z.literal("imageDebug"), params: imageDebugParams, source: imageSource }),
]);
/** Evaluations run one at a time per worker; a lost worker's job is started again (no checkpoint: results are not partial). */
export const evaluationJob = defineJob("evaluation", evaluationJobPayload, { maxAttempts: 2 });
export type EvaluationJobPayload = z.infer<typeof evaluationJob.payload>;
