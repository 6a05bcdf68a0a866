/**
 * A circuit run as a job: builds the engine request from the run row, resumes from the job's
 * checkpoint, records per-layer timings at each checkpoint, validates and stores the circuit
 * (idempotently: a run stores at most one circuit), and keeps the run row in step with the job.
 */
import { eq } from "drizzle-orm";
import { join } from "node:path";
import { z } from "zod";
import type { Db } from "~/db/client";
import { datasets, models, runs, type LayerTiming } from "~/db/schema";
import { importCircuit } from "~/server/circuits/store";
import {
  circuitLayerSchema,
  circuitSchema,
  type CircuitCheckpoint,
  type CircuitRequest,
} from "~/server/neurflow/light";
import type { CircuitEngine } from "../engine";
import { circuitJob, type CircuitJobPayload } from "../kinds/circuit";
import { layerSeconds } from "~/lib/circuits/describe";
import { PermanentJobError, type JobHandler } from "../worker";

const checkpointSchema = z.object({ requestKey: z.string(), layers: z.array(circuitLayerSchema) });

export function circuitJobHandler(db: Db, engine: () => Promise<CircuitEngine>): JobHandler<CircuitJobPayload> {
  return {
    async run(ctx) {
      const { runId } = circuitJob.payload.parse(ctx.job.payload);
      const run = db.select().from(runs).where(eq(runs.id, runId)).get();
      if (!run) throw new PermanentJobError(`run ${runId} no longer exists`);
      const model = db.select().from(models).where(eq(models.id, run.modelId)).get();
      const dataset = db.select().from(datasets).where(eq(datasets.id, run.datasetId)).get();
      if (!model || !dataset) throw new PermanentJobError(`the model or dataset of run ${runId} was deleted`);

      const parsed = ctx.job.checkpoint == null ? null : checkpointSchema.safeParse(ctx.job.checkpoint);
      const resume: CircuitCheckpoint | undefined = parsed?.success ? parsed.data : undefined;
      const done = resume?.layers.length ?? 0;
      const timings: LayerTiming[] = run.layerTimings.slice(0, done);
      const startedAt = run.startedAt ?? Date.now();
      db.update(runs)
        .set({ status: "running", startedAt, layerTimings: timings, error: null })
        .where(eq(runs.id, runId))
        .run();
      await ctx.log(
        resume
          ? `attempt ${ctx.job.attempts}: resuming after ${done} finished layer pair(s)`
          : `attempt ${ctx.job.attempts}: starting`,
      );

      const request: CircuitRequest = {
        manifestPath: model.manifestPath,
        images: join(dataset.dir, run.className),
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
            // the engine's own time for the pair, as the circuit stores it (the summary page shows the same
            // number); wall-clock time since the last checkpoint only when the engine reports none
            const seconds = layerSeconds(l.timings) ?? (i === 0 ? (now - mark) / 1000 : 0);
            const t: LayerTiming = { layer: `${l.upper}←${l.lower}`, seconds };
            if (l.timings) t.stages = l.timings;
            timings.push(t);
          });
          mark = now;
          db.update(runs).set({ layerTimings: timings }).where(eq(runs.id, runId)).run();
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
      const circuitId = importCircuit(db, checked.data, { runId, modelId: model.id, storedBy: run.createdBy });
      db.update(runs).set({ backend: checked.data.params.backend }).where(eq(runs.id, runId)).run();
      await ctx.log(`circuit ${circuitId} stored`);
      return { circuitId };
    },
    settled(job, outcome) {
      const parsed = circuitJob.payload.safeParse(job.payload);
      if (!parsed.success) return;
      const terminal = outcome.status === "succeeded" || outcome.status === "failed" || outcome.status === "canceled";
      db.update(runs)
        .set({
          status: outcome.status,
          error: outcome.error ?? null,
          ...(terminal ? { finishedAt: Date.now() } : {}),
        })
        .where(eq(runs.id, parsed.data.runId))
        .run();
    },
  };
}
