/** Computes a neuron group's IG heatmaps in the worker (server/heatmaps/compute.ts). */
import type { Db } from "~/db/client";
import { heatmapsJob, type HeatmapJobPayload } from "../kinds/heatmaps";
import { PermanentJobError, type JobHandler } from "../worker";

export function heatmapJobHandler(db: Db, storageRoot: string): JobHandler<HeatmapJobPayload> {
  return {
    async run(ctx) {
      const parsed = heatmapsJob.payload.safeParse(ctx.job.payload);
      if (!parsed.success) throw new PermanentJobError(`bad heatmaps payload: ${parsed.error.issues[0]?.message}`);
      const { computeHeatmaps } = await import("~/server/heatmaps/compute");
      const { circuitId, group } = parsed.data;
      await ctx.log(`IG heatmaps of group ${group} of circuit ${circuitId}`);
      const r = await computeHeatmaps(db, storageRoot, circuitId, group, {
        signal: ctx.signal,
        onProgress: (done, total) => void ctx.progress(done / total, `${done}/${total} patches`).catch(() => {}),
      });
      await ctx.log(
        `${r.patches.length} heatmaps in ${r.seconds.toFixed(1)} s (worst completeness error ${(r.completeness * 100).toFixed(2)} %)`,
      );
      return r;
    },
  };
}
