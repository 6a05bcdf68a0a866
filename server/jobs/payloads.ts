/**
 * A payload checked against its kind's schema (server/jobs/kinds/), so a queue can check it when it
 * is queued and again when a worker claims it (the handlers parse it a third time, for their types).
 */
import type { JobKind } from "~/db/schema";
import { JOBS } from "./kinds";
import { payloadIssue } from "./kinds/defineJob";

/** Null when `payload` is a valid payload of `kind`, else what is wrong with it (one line). */
export function payloadProblem(kind: JobKind, payload: unknown): string | null {
  const schema = (JOBS as Partial<Record<string, (typeof JOBS)[JobKind]>>)[kind]?.payload;
  if (!schema) return `unknown job kind "${String(kind)}"`;
  const r = schema.safeParse(payload);
  return r.success ? null : payloadIssue(kind, r.error);
}
