/**
 * Runs an evaluation job in the worker (server/evaluations/compute.ts) and stores its result with
 * the circuit, once per job, through the worker's platform (the database on the web machine, the
 * internal API on another machine). A payload that does not validate, or a circuit / model / image
 * set that is gone, fails the job at once and stores nothing.
 */
import type { Db } from "~/db/client";
import { evaluationJob, type EvaluationJobPayload } from "../kinds/evaluation";
import { platformOf } from "../platform/local";
import type { WorkerPlatform } from "../platform/port";
import { PermanentJobError, type JobHandler } from "../worker";

export function evaluationJobHandler(on: WorkerPlatform | Db, storageRoot?: string): JobHandler<EvaluationJobPayload> {
  const platform = platformOf(on, storageRoot);
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
        computed = await computeEvaluation(
          platform.evaluations,
          payload,
          {
            signal: ctx.signal,
            onProgress: (fraction, message) =>
              void ctx.progress(Math.min(1, Math.max(0, fraction)), message).catch(() => {}),
            log: (message) => ctx.log(message),
          },
          ctx.job.id,
        );
      } catch (e) {
        if (e instanceof EvaluationInputError) throw new PermanentJobError(e.message);
        throw e;
      }
      if (ctx.signal.aborted) throw Object.assign(new Error("canceled"), { name: "AbortError" });
      const evaluationId = await platform.evaluations.store(
        ctx.job.id,
        { circuitId: payload.circuitId, kind: payload.kind, createdBy: payload.createdBy },
        { params: computed.params, result: computed.result, seconds: computed.seconds },
      );
      await ctx.log(`done in ${computed.seconds.toFixed(1)} s: result ${evaluationId}`);
      return { evaluationId };
    },
  };
}
