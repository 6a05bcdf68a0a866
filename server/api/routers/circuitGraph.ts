/** The viewer's reads of one circuit: concept graph and neuron-level hypertree (also for share-link holders of that circuit). */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { loadGraph, loadHypertree } from "~/server/circuits/graph";
import { assertCircuitAllowed, router, sharedReadProcedure } from "../trpc";

const id = z.number().int().positive();

export const circuitGraphRouter = router({
  get: sharedReadProcedure.input(z.object({ id })).query(({ ctx, input }) => {
    assertCircuitAllowed(ctx, input.id);
    const g = loadGraph(ctx.db, input.id);
    if (!g) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${input.id}` });
    return g;
  }),

  hypertree: sharedReadProcedure
    .input(z.object({ id, layer: z.number().int().min(0).max(1000), neuron: z.number().int().min(0).max(1e7) }))
    .query(({ ctx, input }) => {
      assertCircuitAllowed(ctx, input.id);
      const h = loadHypertree(ctx.db, input.id, input.layer, input.neuron);
      if (!h)
        throw new TRPCError({
          code: "NOT_FOUND",
          message: `no target neuron ${input.neuron} in layer pair ${input.layer} of circuit ${input.id}`,
        });
      return h;
    }),
});
