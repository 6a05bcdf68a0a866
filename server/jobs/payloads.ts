/**
 * Each job kind's payload schema, in one place, so a queue can check a payload when it is queued
 * and again when a worker claims it (the handlers parse it a third time, for their own types).
 */
import type { z } from "zod";
import type { JobKind } from "~/db/schema";
import { evaluationJobPayload } from "~/server/evaluations/job";
import { heatmapJobPayload } from "~/server/heatmaps/job";
import { circuitJobPayload } from "./handlers/circuitJob";
import { labelJobPayload } from "./handlers/labelJob";
import { validateModelPayload } from "./handlers/validateModelJob";

export const JOB_PAYLOADS: Record<JobKind, z.ZodType> = {
  circuit: circuitJobPayload,
  validateModel: validateModelPayload,
  label: labelJobPayload,
  heatmaps: heatmapJobPayload,
  evaluation: evaluationJobPayload,
};

/** Null when `payload` is a valid payload of `kind`, else what is wrong with it (one line). */
export function payloadProblem(kind: JobKind, payload: unknown): string | null {
  const schema = JOB_PAYLOADS[kind];
  if (!schema) return `unknown job kind "${String(kind)}"`;
  const r = schema.safeParse(payload);
  if (r.success) return null;
  const i = r.error.issues[0];
  return `bad ${kind} payload: ${i ? `${i.path.join(".") || "(root)"}: ${i.message}` : "invalid"}`;
}
