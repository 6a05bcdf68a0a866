/**
 * A circuit run as a job: builds the engine request from the run row, resumes from the job's
 * checkpoint, records per-layer timings at each checkpoint, validates and stores the circuit
 * (idempotently: a run stores at most one circuit), and keeps the run row in step with the job.
 */
import { z } from "zod";
import type { Db } from "~/db/client";
import type { LayerTiming } from "~/db/schema";
import {
  circuitLayerSchema,
  circuitSchema,
  type CircuitCheckpoint,
  type CircuitRequest,
} from "~/server/neurflow/light";
import type { CircuitEngine } from "../engine";
import { platformOf } from "../platform/local";
import type { WorkerPlatform } from "../platform/port";
import { circuitJob, type CircuitJobPayload } from "../kinds/circuit";
import { PermanentJobError, type JobHandler } from "../worker";

const checkpointSchema = z.object({ requestKey: z.string(), layers: z.array(circuitLayerSchema) });

export function circuitJobHandler(
  on: WorkerPlatform | Db,
  engine: () => Promise<CircuitEngine>,
): JobHandler<CircuitJobPayload> {
  const platform = platformOf(on);
  return {
    async run(ctx) {
      const { runId } = circuitJob.payload.parse(ctx.job.payload);
      const run = await platform.circuitRun(runId);
      if (!run.ok) throw new PermanentJobError(run.error);

      const parsed = ctx.job.checkpoint == null ? null : checkpointSchema.safeParse(ctx.job.checkpoint);
      const resume: CircuitCheckpoint | undefined = parsed?.success ? parsed.data : undefined;
      const done = resume?.layers.length ?? 0;
      const timings: LayerTiming[] = run.layerTimings.slice(0, done);
      const startedAt = run.startedAt ?? Date.now();
      await platform.updateRun(runId, { status: "running", startedAt, layerTimings: timings, error: null });
      await ctx.log(
        resume
          ? `attempt ${ctx.job.attempts}: resuming after ${done} finished layer pair(s)`
          : `attempt ${ctx.job.attempts}: starting`,
      );

      const request: CircuitRequest = {
        manifestPath: run.manifestPath,
        images: run.images,
        className: run.className,
        layers: run.layers,
        params: run.params,
      };
      const build = await engine();
      let mark = Date.now();
      let lastStage = "";
      const circuit = await build(request, {
        resume,
        signal: ctx.signal,
        onProgress: (p) => {
          const stageChanged = `${p.stage}:${p.layer ?? ""}` !== lastStage;
          lastStage = `${p.stage}:${p.layer ?? ""}`;
          void ctx
            .progress(
              p.fraction,
              p.message,
              { stage: p.stage, layer: p.layer ?? null, done: p.done, total: p.total },
              stageChanged,
            )
            .catch(() => {});
        },
        onCheckpoint: async (c) => {
          const now = Date.now();
          const added = c.layers.slice(timings.length);
          added.forEach((l, i) => {
            const t: LayerTiming = { layer: `${l.upper}←${l.lower}`, seconds: i === 0 ? (now - mark) / 1000 : 0 };
            if (l.timings) t.stages = l.timings;
            timings.push(t);
          });
          mark = now;
          await platform.updateRun(runId, { layerTimings: timings });
          const last = added[added.length - 1];
          await ctx.checkpoint(c, {
            layers: c.layers.length,
            layer: last ? `${last.upper}←${last.lower}` : null,
            seconds: timings.at(-1)?.seconds ?? null,
          });
        },
      }).catch((e: unknown) => {
        // the engine refused the request itself: a retry would be refused again
        throw e instanceof Error && e.name === "CircuitInputError" ? new PermanentJobError(e.message) : e;
      });
      const checked = circuitSchema.safeParse(circuit);
      if (!checked.success)
        throw new PermanentJobError(`the engine returned an invalid circuit: ${checked.error.issues[0]?.message}`);
      const circuitId = await platform.storeCircuit(runId, checked.data);
      await ctx.log(`circuit ${circuitId} stored`);
      return { circuitId };
    },
    async settled(job, outcome) {
      const parsed = circuitJob.payload.safeParse(job.payload);
      if (!parsed.success) return;
      const terminal = outcome.status === "succeeded" || outcome.status === "failed" || outcome.status === "canceled";
      await platform.updateRun(parsed.data.runId, {
        status: outcome.status,
        error: outcome.error ?? null,
        ...(terminal ? { finishedAt: Date.now() } : {}),
      });
    },
  };
}
