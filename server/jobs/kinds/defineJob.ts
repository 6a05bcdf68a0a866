/**
 * A job kind's definition: its name, its payload schema and how it is queued. Each kind has one
 * module in this folder (circuit, validateModel, label, heatmaps, evaluation) that the routers queue
 * through and the queues check payloads against; its handler, which runs only in the worker, lives in
 * server/jobs/handlers/ and parses the payload with the same schema. The definitions import nothing
 * heavy, so the web process and both queues can load them.
 */
import type { z } from "zod";
import type { JobKind } from "~/db/schema";
import type { EnqueueOptions, JobQueue, JobRecord } from "../queue";

/** What is wrong with a payload of `kind`, in one line: "bad circuit payload: runId: …". */
export function payloadIssue(kind: string, error: z.ZodError): string {
  const i = error.issues[0];
  return `bad ${kind} payload: ${i ? `${i.path.join(".") || "(root)"}: ${i.message}` : "invalid"}`;
}

export interface JobDefinition<K extends JobKind, S extends z.ZodType> {
  kind: K;
  payload: S;
  /** Attempts unless the caller says otherwise. */
  maxAttempts: number;
  /** Validates the payload (a clear error, nothing queued, when it is wrong) and queues it. */
  enqueue(queue: JobQueue, payload: z.input<S>, opts?: EnqueueOptions): Promise<JobRecord<z.output<S>>>;
}

export function defineJob<K extends JobKind, S extends z.ZodType>(
  kind: K,
  payload: S,
  defaults: { maxAttempts: number },
): JobDefinition<K, S> {
  return {
    kind,
    payload,
    maxAttempts: defaults.maxAttempts,
    async enqueue(queue, input, opts = {}) {
      const parsed = payload.safeParse(input);
      if (!parsed.success) throw new Error(payloadIssue(kind, parsed.error));
      const record = await queue.enqueue(kind, parsed.data as never, { maxAttempts: defaults.maxAttempts, ...opts });
      return record as JobRecord<z.output<S>>;
    },
  };
}
