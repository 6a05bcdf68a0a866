/**
 * Worker machines (admins only): the tokens workers on other machines present to the internal API
 * (create — shown once —, list, revoke) and the workers that registered with them.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { listWorkers } from "~/server/workers/registry";
import { createWorkerToken, listWorkerTokens, revokeWorkerToken, workerTokenNameSchema } from "~/server/workers/tokens";
import { adminProcedure, router } from "../trpc";

export const workersRouter = router({
  list: adminProcedure.query(({ ctx }) => listWorkers(ctx.db)),
  tokens: adminProcedure.query(({ ctx }) => listWorkerTokens(ctx.db)),
  createToken: adminProcedure
    .input(z.object({ name: workerTokenNameSchema }))
    .mutation(({ ctx, input }) => createWorkerToken(ctx.db, { name: input.name, createdBy: ctx.user.id })),
  revokeToken: adminProcedure.input(z.object({ id: z.number().int().positive() })).mutation(({ ctx, input }) => {
    if (!revokeWorkerToken(ctx.db, input.id))
      throw new TRPCError({ code: "NOT_FOUND", message: `no worker token ${input.id}` });
    return { id: input.id, revoked: true };
  }),
});
