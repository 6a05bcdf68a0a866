/**
 * The context of a neuron group's concept patches (also for share-link holders of the circuit),
 * and a request that computes every group's activation over all patches in the worker
 * (signed-in users; one live job per circuit; computed once, then read from storage).
 */
import { TRPCError } from "@trpc/server";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { circuits } from "~/db/schema";
import { activationsComputed, activationsJobFor } from "~/server/circuits/patchActivations";
import { groupPatchContext } from "~/server/circuits/patchContext";
import { patchActivationsJob } from "~/server/jobs/kinds/patchActivations";
import { assertCircuitAllowed, router, sharedReadProcedure, viewerProcedure } from "../trpc";

const id = z.number().int().positive();

export const patchContextRouter = router({
  get: sharedReadProcedure.input(z.object({ id, group: id })).query(({ ctx, input }) => {
    assertCircuitAllowed(ctx, input.id);
    const c = groupPatchContext(ctx.db, ctx.storageRoot, input.id, input.group);
    if (!c)
      throw new TRPCError({ code: "NOT_FOUND", message: `no neuron group ${input.group} in circuit ${input.id}` });
    return c;
  }),

  request: viewerProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    const c = ctx.db.select({ id: circuits.id }).from(circuits).where(eq(circuits.id, input.id)).get();
    if (!c) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${input.id}` });
    // computed once: a request after that (or while a job is live) queues nothing
    if (activationsComputed(ctx.storageRoot, input.id)) return { jobId: null };
    const live = activationsJobFor(ctx.db, input.id, ["queued", "running"]);
    if (live) return { jobId: live.id };
    const job = await patchActivationsJob.enqueue(ctx.queue, { circuitId: input.id });
    return { jobId: job.id };
  }),
});
