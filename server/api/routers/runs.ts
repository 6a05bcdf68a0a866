/** Circuit runs: start, list, detail, cancel, and the live progress subscription (SSE). */
import { circuitJob } from "~/server/jobs/kinds/circuit";
import { tracked, TRPCError } from "@trpc/server";
import { and, count, desc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { patchesPerImage, resolveParams } from "~/server/neurflow/light";
import { circuits, datasets, images, jobs, models, runs } from "~/db/schema";
import { isTerminal, type JobEvent } from "~/server/jobs/queue";
import { annotatorProcedure, router, viewerProcedure } from "../trpc";

const id = z.number().int().positive();

export const startRunInput = z.object({
  modelId: id,
  datasetId: id,
  className: z.string().min(1).max(200),
  /** Layer names from the manifest (any order; the run takes them top-down). */
  layers: z.array(z.string().min(1).max(200)).min(2, "pick at least two layers").max(64),
  tau: z.number().int().min(1, "τ is at least 1").max(64, "τ is at most 64"),
  k: z.number().int().min(2, "k is at least 2").max(1000, "k is at most 1000"),
  igSteps: z.number().int().min(1, "N is at least 1").max(300, "N is at most 300"),
  preset: z.enum(["default", "reference"]).default("default"),
});

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export const runsRouter = router({
  list: viewerProcedure
    .input(z.object({ modelId: id.optional(), limit: z.number().int().min(1).max(200).default(50) }))
    .query(({ ctx, input }) =>
      ctx.db
        .select({
          id: runs.id,
          modelId: runs.modelId,
          modelName: models.name,
          className: runs.className,
          status: runs.status,
          progress: jobs.progress,
          createdAt: runs.createdAt,
          finishedAt: runs.finishedAt,
          circuitId: circuits.id,
        })
        .from(runs)
        .innerJoin(models, eq(models.id, runs.modelId))
        .leftJoin(jobs, eq(jobs.id, runs.jobId))
        .leftJoin(circuits, eq(circuits.runId, runs.id))
        .where(input.modelId ? eq(runs.modelId, input.modelId) : undefined)
        .orderBy(desc(runs.createdAt), desc(runs.id))
        .limit(input.limit)
        .all(),
    ),

  get: viewerProcedure.input(z.object({ id })).query(({ ctx, input }) => {
    const r = ctx.db
      .select({ run: runs, modelName: models.name, datasetName: datasets.name, job: jobs, circuitId: circuits.id })
      .from(runs)
      .innerJoin(models, eq(models.id, runs.modelId))
      .innerJoin(datasets, eq(datasets.id, runs.datasetId))
      .leftJoin(jobs, eq(jobs.id, runs.jobId))
      .leftJoin(circuits, eq(circuits.runId, runs.id))
      .where(eq(runs.id, input.id))
      .get();
    if (!r) throw new TRPCError({ code: "NOT_FOUND", message: `no run ${input.id}` });
    const j = r.job;
    return {
      ...r.run,
      // the job is the truth about state (a reaped job settles without a worker)
      status: j?.status ?? r.run.status,
      error: r.run.error ?? j?.error ?? null,
      modelName: r.modelName,
      datasetName: r.datasetName,
      circuitId: r.circuitId,
      job: j
        ? {
            id: j.id,
            progress: j.progress,
            message: j.message,
            attempts: j.attempts,
            maxAttempts: j.maxAttempts,
            cancelRequested: j.cancelRequested,
          }
        : null,
    };
  }),

  start: annotatorProcedure.input(startRunInput).mutation(async ({ ctx, input }) => {
    const model = ctx.db.select().from(models).where(eq(models.id, input.modelId)).get();
    if (!model) throw new TRPCError({ code: "NOT_FOUND", message: `no model ${input.modelId}` });
    if (model.status === "invalid")
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: `model "${model.name}" failed its load check: ${model.statusMessage}`,
      });
    const dataset = ctx.db.select().from(datasets).where(eq(datasets.id, input.datasetId)).get();
    if (!dataset) throw new TRPCError({ code: "NOT_FOUND", message: `no dataset ${input.datasetId}` });
    const classIndex = model.manifest.classes.indexOf(input.className);
    if (classIndex < 0)
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: `"${input.className}" is not a class of model "${model.name}"`,
      });
    const { n, smallest } = ctx.db
      .select({ n: count(), smallest: sql<number | null>`min(min(${images.width}, ${images.height}))` })
      .from(images)
      .where(and(eq(images.datasetId, dataset.id), eq(images.className, input.className)))
      .get() ?? { n: 0, smallest: null };
    if (n === 0)
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: `dataset "${dataset.name}" has no images of class "${input.className}"`,
      });
    // the upload rule for a dataset named with a model, checked here for any dataset: no upsampled images
    const size = model.manifest.input.size;
    if (smallest != null && smallest < size)
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: `dataset "${dataset.name}" has images of class "${input.className}" with a side of ${smallest} px; model "${model.name}" takes ${size}×${size}, so every image needs sides of at least ${size} px`,
      });
    // k top patches per neuron: more than the class's images give can never run (the engine keeps
    // only the images the model assigns to the class, so it may find fewer still)
    const method = resolveParams({ preset: input.preset });
    const most = n * patchesPerImage(size, method.granularities, method.strideRatio);
    if (input.k > most)
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: `k = ${input.k} is more than the ${most} patches that the ${n} images of class "${input.className}" give; choose k ≤ ${most}`,
      });
    const order = model.manifest.layers.map((l) => l.name);
    const unknown = input.layers.filter((l) => !order.includes(l));
    if (unknown.length)
      throw new TRPCError({ code: "BAD_REQUEST", message: `not layers of the model: ${unknown.join(", ")}` });
    const layers = [...new Set(input.layers)].sort((a, b) => order.indexOf(b) - order.indexOf(a));
    if (layers.length < 2) throw new TRPCError({ code: "BAD_REQUEST", message: "pick at least two different layers" });
    const now = Date.now();
    const run = ctx.db
      .insert(runs)
      .values({
        modelId: model.id,
        datasetId: dataset.id,
        className: input.className,
        classIndex,
        layers,
        params: { preset: input.preset, tau: input.tau, k: input.k, igSteps: input.igSteps },
        status: "queued",
        layerTimings: [],
        createdBy: ctx.user.id,
        createdAt: now,
      })
      .returning()
      .get();
    const job = await circuitJob.enqueue(ctx.queue, { runId: run.id });
    ctx.db.update(runs).set({ jobId: job.id }).where(eq(runs.id, run.id)).run();
    return { id: run.id, jobId: job.id, layers };
  }),

  cancel: annotatorProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    const run = ctx.db.select().from(runs).where(eq(runs.id, input.id)).get();
    if (!run) throw new TRPCError({ code: "NOT_FOUND", message: `no run ${input.id}` });
    if (!run.jobId) throw new TRPCError({ code: "BAD_REQUEST", message: "the run has no job" });
    const status = await ctx.queue.cancel(run.jobId);
    if (status === "canceled" && run.status === "queued")
      ctx.db.update(runs).set({ status: "canceled", finishedAt: Date.now() }).where(eq(runs.id, run.id)).run();
    return { status };
  }),

  /**
   * The run's job events (status, progress, log, checkpoint) as they happen. Each event carries its
   * id (`tracked`), so a reconnecting browser resumes after the last one it saw. Ends once the job
   * is settled and every event was sent.
   */
  progress: viewerProcedure
    .input(z.object({ id, lastEventId: z.string().regex(/^\d+$/).nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      const run = ctx.db.select({ jobId: runs.jobId }).from(runs).where(eq(runs.id, input.id)).get();
      if (!run) throw new TRPCError({ code: "NOT_FOUND", message: `no run ${input.id}` });
      if (!run.jobId) return;
      let last = input.lastEventId ? Number(input.lastEventId) : 0;
      while (!signal?.aborted) {
        const job = await ctx.queue.get(run.jobId);
        const events: JobEvent[] = await ctx.queue.events(run.jobId, last);
        for (const e of events) {
          last = e.id;
          yield tracked(String(e.id), { type: e.type, data: e.data, at: e.createdAt });
        }
        if (events.length === 0 && (!job || isTerminal(job.status))) return;
        if (events.length === 0) await sleep(ctx.pollMs, signal);
      }
    }),
});
