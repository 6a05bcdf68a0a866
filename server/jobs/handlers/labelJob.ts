/**
 * Labeling a circuit as a job: labels and explanations from the configured MLLM, stored item by
 * item (so a retried or resumed job continues where it stopped: what is labeled is skipped).
 * Progress is items done / items to do; the result lists every failure.
 */
import type { Db } from "~/db/client";
import type { LabelClient } from "~/server/labeling/client";
import { labelCircuit, LabelSetupError } from "~/server/labeling/labelCircuit";
import { labelJob, type LabelJobPayload } from "../kinds/label";
import { platformOf } from "../platform/local";
import type { WorkerPlatform } from "../platform/port";
import { PermanentJobError, type JobHandler } from "../worker";

export function labelJobHandler(on: WorkerPlatform | Db, makeClient: () => LabelClient): JobHandler<LabelJobPayload> {
  const platform = platformOf(on);
  return {
    async run(ctx) {
      const p = labelJob.payload.safeParse(ctx.job.payload);
      if (!p.success) throw new PermanentJobError(`bad label job payload: ${p.error.issues[0]?.message}`);
      let client: LabelClient;
      try {
        client = makeClient();
      } catch (e) {
        throw new PermanentJobError((e as Error).message);
      }
      await ctx.log(
        `attempt ${ctx.job.attempts}: labeling circuit ${p.data.circuitId} with ${client.model}${p.data.force ? " (relabeling everything)" : ""}`,
      );
      try {
        const r = await labelCircuit(platform.labels, p.data.circuitId, client, {
          force: p.data.force,
          maxCalls: p.data.maxCalls,
          signal: ctx.signal,
          onProgress: (done, total, message) =>
            ctx.progress(total ? done / total : 1, message, { done, total }, done === total),
          onLog: (message, data) => ctx.log(message, data),
        });
        await ctx.log(
          `done: ${r.labeled} label(s), ${r.explained} explanation(s), ${r.skipped} skipped, ${r.failed.length} failed${r.capReached ? `, call cap reached (${r.notAttempted} not attempted)` : ""}; ${r.calls} call(s), ${r.promptTokens}+${r.completionTokens} tokens`,
        );
        return r;
      } catch (e) {
        if (e instanceof LabelSetupError) throw new PermanentJobError(e.message);
        throw e;
      }
    },
  };
}
