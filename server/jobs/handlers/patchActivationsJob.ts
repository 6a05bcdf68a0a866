/** Computes a circuit's group activations over all its patches in the worker (server/circuits/patchActivationsCompute.ts). */
import type { Db } from "~/db/client";
import { patchActivationsJob, type PatchActivationsJobPayload } from "../kinds/patchActivations";
import { PermanentJobError, type JobHandler } from "../worker";

export function patchActivationsJobHandler(db: Db, storageRoot: string): JobHandler<PatchActivationsJobPayload> {
  return {
    async run(ctx) {
      const parsed = patchActivationsJob.payload.safeParse(ctx.job.payload);
      if (!parsed.success)
        throw new PermanentJobError(`bad patchActivations payload: ${parsed.error.issues[0]?.message}`);
      const { computePatchActivations } = await import("~/server/circuits/patchActivationsCompute");
      const { circuitId } = parsed.data;
      await ctx.log(`activations of every group on all patches of circuit ${circuitId}`);
      const r = await computePatchActivations(db, storageRoot, circuitId, {
        signal: ctx.signal,
        onProgress: (done, total) => void ctx.progress(done / total, `${done}/${total} patches`).catch(() => {}),
      });
      await ctx.log(`${r.groups} groups × ${r.patches} patches in ${r.seconds.toFixed(1)} s`);
      return r;
    },
  };
}
