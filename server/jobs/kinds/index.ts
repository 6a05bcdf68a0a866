/** Every job kind's definition, by kind (see defineJob.ts). */
import type { z } from "zod";
import type { JobKind } from "~/db/schema";
import { circuitJob } from "./circuit";
import { conceptMatchJob } from "./conceptMatch";
import { evaluationJob } from "./evaluation";
import { heatmapsJob } from "./heatmaps";
import { labelJob } from "./label";
import { patchActivationsJob } from "./patchActivations";
import { validateModelJob } from "./validateModel";

export const JOBS = {
  circuit: circuitJob,
  validateModel: validateModelJob,
  label: labelJob,
  heatmaps: heatmapsJob,
  evaluation: evaluationJob,
  patchActivations: patchActivationsJob,
  conceptMatch: conceptMatchJob,
} as const satisfies { [K in JobKind]: { kind: K; payload: z.ZodType } };

/** What `queue.enqueue(kind, …)` takes for a kind. */
export type JobPayload<K extends JobKind> = z.input<(typeof JOBS)[K]["payload"]>;
