/**
 * IG heatmaps of a neuron group's concept patches: which exist (also for share-link holders of the
 * circuit) and a request that queues their computation in the worker (signed-in users; one live
 * job per group; computed once, then served from storage).
 */
import { heatmapsJob } from "~/server/jobs/kinds/heatmaps";
import { TRPCError } from "@trpc/server";
import { and, eq } from "drizzle-orm";
import { existsSync } from "node:fs";
import { z } from "zod";
import { circuitLayers, neuronGroups } from "~/db/schema";
import { loadGraph } from "~/server/circuits/graph";
import { heatmapPath } from "~/server/circuits/renders";
import { heatmapJobFor } from "~/server/heatmaps/job";
import { assertCircuitAllowed, router, sharedReadProcedure, viewerProcedure } from "../trpc";

const input = z.object({ id: z.number().int().positive(), group: z.number().int().positive() });

export const heatmapsRouter = router({
  status: sharedReadProcedure.input(input).query(({ ctx, input }) => {
    assertCircuitAllowed(ctx, input.id);
    const g = loadGraph(ctx.db, input.id)?.groups.find((x) => x.id === input.group);
    if (!g)
      throw new TRPCError({ code: "NOT_FOUND", message: `no neuron group ${input.group} in circuit ${input.id}` });
    const ready = g.patches.filter((p) => existsSync(heatmapPath(ctx.storageRoot, input.id, input.group, p)));
    const job = heatmapJobFor(ctx.db, input.id, input.group) ?? null;
    return { patches: g.patches, ready, job };
  }),

  request: viewerProcedure.input(input).mutation(async ({ ctx, input }) => {
    const g = ctx.db
      .select({ id: neuronGroups.id })
      .from(neuronGroups)
      .innerJoin(circuitLayers, eq(circuitLayers.id, neuronGroups.layerId))
      .where(and(eq(neuronGroups.id, input.group), eq(circuitLayers.circuitId, input.id)))
      .get();
    if (!g)
      throw new TRPCError({ code: "NOT_FOUND", message: `no neuron group ${input.group} in circuit ${input.id}` });
    const live = heatmapJobFor(ctx.db, input.id, input.group, ["queued", "running"]);
    if (live) return { jobId: live.id };
    const job = await heatmapsJob.enqueue(ctx.queue, { circuitId: input.id, group: input.group });
    return { jobId: job.id };
  }),
});
