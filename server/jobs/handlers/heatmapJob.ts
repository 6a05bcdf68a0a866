/**
 * Computes a neuron group's IG heatmaps in the worker (server/heatmaps/compute.ts), reading the
 * group, the model and the patches and storing each heatmap through the worker's platform: the
 * database and storage folder on the web machine, the internal API on another machine.
 */
import type { Db } from "~/db/client";
import { heatmapsJob, type HeatmapJobPayload } from "../kinds/heatmaps";
import { platformOf } from "../platform/local";
import type { WorkerPlatform } from "../platform/port";
import { PermanentJobError, type JobHandler } from "../worker";

export function heatmapJobHandler(on: WorkerPlatform | Db, storageRoot?: string): JobHandler<HeatmapJobPayload> {
  const platform = platformOf(on, storageRoot);
  return {
    async run(ctx) {
      const parsed = heatmapsJob.payload.safeParse(ctx.job.payload);
      if (!parsed.success) throw new PermanentJobError(`bad heatmaps payload: ${parsed.error.issues[0]?.message}`);
      const { computeGroupHeatmaps } = await import("~/server/heatmaps/compute");
      const { HeatmapInputError } = await import("~/server/heatmaps/inputs");
      const { circuitId, group } = parsed.data;
      await ctx.log(`IG heatmaps of group ${group} of circuit ${circuitId}`);
      let inputs;
      try {
        inputs = await platform.heatmaps.open(circuitId, group, ctx.job.id);
      } catch (e) {
        if (e instanceof HeatmapInputError) throw new PermanentJobError(e.message);
        throw e;
      }
      const r = await computeGroupHeatmaps(inputs, {
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
