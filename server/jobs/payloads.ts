/**
 * Each job kind's payload schema, in one place, so a queue can check a payload when it is queued
 * and again when a worker claims it (the handlers parse it a third time, for their own types).
 */
import type { JobKind } from "~/db/schema";
import { JOBS } from "./kinds";

/** Null when `payload` is a valid payload of `kind`, else what is wrong with it (one line). */
export function payloadProblem(kind: JobKind, payload: unknown): string | null {
  const schema = (JOBS as Partial<Record<string, (typeof JOBS)[JobKind]>>)[kind]?.payload;
  if (!schema) return `unknown job kind "${String(kind)}"`;
  const r = schema.safeParse(payload);
  if (r.success) return null;
  const i = r.error.issues[0];
  return `bad ${kind} payload: ${i ? `${i.path.join(".") || "(root)"}: ${i.message}` : "invalid"}`;
}
