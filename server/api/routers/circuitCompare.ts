/**
 * Two circuits side by side: their graphs, the matching of their neuron groups by member neurons
 * (meaningful within one model only), and the concept match — groups matched by what they see,
 * computed by a worker job (docs/viewer.md, "Compare").
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { conceptMatchParams } from "~/lib/circuits/conceptMatchParams";
import { compareGraphs } from "~/server/circuits/compare";
import { conceptMatchJobFor, conceptMatchProblem, latestConceptMatch } from "~/server/circuits/conceptMatchStore";
import { loadGraph } from "~/server/circuits/graph";
import { conceptMatchJob } from "~/server/jobs/kinds/conceptMatch";
import { annotatorProcedure, router, viewerProcedure } from "../trpc";

const id = z.number().int().positive();
const pair = z.object({ a: id, b: id }).strict();

export const circuitCompareRouter = router({
  get: viewerProcedure.input(z.object({ a: id, b: id })).query(({ ctx, input }) => {
    const a = loadGraph(ctx.db, input.a);
    const b = loadGraph(ctx.db, input.b);
    if (!a || !b) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${!a ? input.a : input.b}` });
    const sameModel = a.circuit.modelId != null && a.circuit.modelId === b.circuit.modelId;
    return { a, b, sameModel, comparison: compareGraphs(a, b) };
  }),
  /** The newest concept match of (a, b), its newest job, and why it cannot be computed (if so). */
  concept: viewerProcedure.input(pair).query(({ ctx, input }) => {
    const problem =
      input.a === input.b
        ? "a circuit is compared with another circuit"
        : (conceptMatchProblem(ctx.db, input.a) ?? conceptMatchProblem(ctx.db, input.b));
    return {
      stored: latestConceptMatch(ctx.db, input.a, input.b),
      job: conceptMatchJobFor(ctx.db, input.a, input.b),
      problem,
    };
  }),
  /** Queues a concept match (a live job of the same pair is reused). */
  startConcept: annotatorProcedure
    .input(pair.extend({ params: conceptMatchParams.prefault({}) }))
    .mutation(async ({ ctx, input }) => {
      if (input.a === input.b)
        throw new TRPCError({ code: "BAD_REQUEST", message: "a circuit is compared with another circuit" });
      for (const c of [input.a, input.b]) {
        const problem = conceptMatchProblem(ctx.db, c);
        if (problem)
          throw new TRPCError({
            code: problem.endsWith("does not exist") ? "NOT_FOUND" : "BAD_REQUEST",
            message: problem,
          });
      }
      const live = conceptMatchJobFor(ctx.db, input.a, input.b);
      if (live && (live.status === "queued" || live.status === "running")) return { jobId: live.id, reused: true };
      const job = await conceptMatchJob.enqueue(ctx.queue, {
        a: input.a,
        b: input.b,
        createdBy: ctx.user.id,
        params: input.params,
      });
      return { jobId: job.id, reused: false };
    }),
});
