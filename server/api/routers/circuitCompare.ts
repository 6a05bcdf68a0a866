/** Two circuits side by side: their graphs and the matching of their neuron groups by member neurons. */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { compareGraphs } from "~/server/circuits/compare";
import { loadGraph } from "~/server/circuits/graph";
import { router, viewerProcedure } from "../trpc";

const id = z.number().int().positive();

export const circuitCompareRouter = router({
  get: viewerProcedure.input(z.object({ a: id, b: id })).query(({ ctx, input }) => {
    const a = loadGraph(ctx.db, input.a);
    const b = loadGraph(ctx.db, input.b);
    if (!a || !b) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${!a ? input.a : input.b}` });
    return { a, b, comparison: compareGraphs(a, b) };
  }),
});
