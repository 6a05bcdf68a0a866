/**
 * Runs an evaluation job in the worker (server/evaluations/compute.ts) and stores its result with
 * the circuit (server/evaluations/store.ts), once per job. A payload that does not validate, or a
 * circuit / model / image set that is gone, fails the job at once and stores nothing.
 */
import type { Db } from "~/db/client";
import { evaluationJob, type EvaluationJobPayload } from "../kinds/evaluation";
import { storeEvaluation } from "~/server/evaluations/store";
import { PermanentJobError, type JobHandler } from "../worker";

export function evaluationJobHandler(db: Db, storageRoot: string): JobHandler<EvaluationJobPayload> {
  return {
    async run(ctx) {
      const parsed = evaluationJob.payload.safeParse(ctx.job.payload);
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        throw new PermanentJobError(
          `bad evaluation payload: ${i ? `${i.path.join(".") || "(root)"}: ${i.message}` : "invalid"}`,
        );
      }
      const payload = parsed.data;
      const { computeEvaluation, EvaluationInputError } = await import("~/server/evaluations/compute");
      await ctx.log(`${payload.kind} of circuit ${payload.circuitId}`);
      let computed;
      try {
        computed = await computeEvaluation(db, storageRoot, payload, {
          signal: ctx.signal,
          onProgress: (fraction, message) =>
            void ctx.progress(Math.min(1, Math.max(0, fraction)), message).catch(() => {}),
          log: (message) => ctx.log(message),
        });
      } catch (e) {
        if (e instanceof EvaluationInputError) throw new PermanentJobError(e.message);
        throw e;
      }
      if (ctx.signal.aborted) throw Object.assign(new Error("canceled"), { name: "AbortError" });
      const evaluationId = storeEvaluation(db, {
        circuitId: payload.circuitId,
        kind: payload.kind,
        params: computed.params,
        result: computed.result,
        jobId: ctx.job.id,
        seconds: computed.seconds,
        createdBy: payload.createdBy,
      });
      await ctx.log(`done in ${computed.seconds.toFixed(1)} s: result ${evaluationId}`);
      return { evaluationId };
    },
  };
}
