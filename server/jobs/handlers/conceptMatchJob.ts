/** Runs a concept match of two circuits in the worker (server/circuits/conceptMatch.ts) and stores it once per job. */
import type { Db } from "~/db/client";
import { payloadIssue } from "../kinds/defineJob";
import { conceptMatchJob, type ConceptMatchJobPayload } from "../kinds/conceptMatch";
import { PermanentJobError, type JobHandler } from "../worker";

export function conceptMatchJobHandler(db: Db): JobHandler<ConceptMatchJobPayload> {
  return {
    async run(ctx) {
      const parsed = conceptMatchJob.payload.safeParse(ctx.job.payload);
      if (!parsed.success) throw new PermanentJobError(payloadIssue("conceptMatch", parsed.error));
      const payload = parsed.data;
      const { computeConceptMatch, ConceptMatchInputError } = await import("~/server/circuits/conceptMatch");
      const { storeConceptMatch } = await import("~/server/circuits/conceptMatchStore");
      await ctx.log(`concept match of circuits ${payload.a} and ${payload.b}`);
      let result;
      try {
        result = await computeConceptMatch(db, payload, {
          signal: ctx.signal,
          onProgress: (fraction, message) =>
            void ctx.progress(Math.min(1, Math.max(0, fraction)), message).catch(() => {}),
        });
      } catch (e) {
        if (e instanceof ConceptMatchInputError) throw new PermanentJobError(e.message);
        throw e;
      }
      if (ctx.signal.aborted) throw Object.assign(new Error("canceled"), { name: "AbortError" });
      const id = storeConceptMatch(db, {
        circuitA: payload.a,
        circuitB: payload.b,
        params: payload.params,
        result,
        jobId: ctx.job.id,
        seconds: result.seconds,
        createdBy: payload.createdBy,
      });
      await ctx.log(`done in ${result.seconds.toFixed(1)} s: concept match ${id}`);
      return { conceptMatchId: id };
    },
  };
}
