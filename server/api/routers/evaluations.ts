/**
 * Evaluations and applications of a circuit (optimality, fidelity of neurons and of weights, image
 * debugging, group masking, the viewer's faithfulness figure): start one as a worker job
 * (annotators), list and read the stored results (viewers), cancel a job (annotators). Share-link
 * holders read only the faithfulness figure of their circuit, which the viewer shows. Thin:
 * validation and roles here, the work in server/evaluations/ and the worker.
 */
import { TRPCError } from "@trpc/server";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { circuits, datasets, evaluations, jobs } from "~/db/schema";
import { exportCircuit } from "~/server/circuits/store";
import { evaluationJob, type EvaluationJobPayload } from "~/server/jobs/kinds/evaluation";
import {
  checkAgainstCircuit,
  EVALUATION_KIND_LIST,
  EvaluationParamsError,
  evaluationRequest,
  imageDebugParams,
  type CircuitFacts,
  type EvaluationRequest,
} from "~/lib/evaluations/params";
import { circuitFacts, evaluationJobs, getEvaluation, listEvaluations } from "~/server/evaluations/store";
import { storeDebugUploads } from "~/server/evaluations/uploads";
import { coreNeuronsAtTau } from "~/server/neurflow/light";
import type { Context } from "../context";
import { fileFields, formNumber, readFormFile, textFields, uploadInput, withUpload } from "../formData";
import { limits } from "~/server/storage/limits";
import {
  annotatorProcedure,
  assertCircuitAllowed,
  hasRole,
  router,
  sharedReadProcedure,
  viewerProcedure,
  zodIssuesText,
} from "../trpc";

const id = z.number().int().positive();

function factsOf(ctx: Pick<Context, "db">, circuitId: number): CircuitFacts {
  const facts = circuitFacts(ctx.db, circuitId);
  if (!facts) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${circuitId}` });
  return facts;
}

function badRequest<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    // the parameter checks and the engine's τ check: messages for the user
    if (e instanceof EvaluationParamsError || e instanceof Error)
      throw new TRPCError({ code: "BAD_REQUEST", message: e.message, cause: e });
    throw e;
  }
}

/** Checks a request against the circuit; τ of a fidelity-of-neurons request goes through the engine's own check. */
function checked<R extends EvaluationRequest>(ctx: Pick<Context, "db">, facts: CircuitFacts, request: R): R {
  let doc: ReturnType<typeof exportCircuit> | undefined;
  const tauCheck = (tau: number) => {
    doc ??= exportCircuit(ctx.db, facts.id);
    if (doc) coreNeuronsAtTau(doc, tau);
  };
  return badRequest(() =>
    checkAgainstCircuit(facts, request, request.kind === "fidelityOfNeurons" ? tauCheck : undefined),
  );
}

const debugFields = z.object({
  circuitId: formNumber(z.number("a circuit is required").int().positive()),
  layerIndex: formNumber(z.number("a layer is required").int().min(0).max(1000)),
  topCrops: formNumber(z.number().int().optional()),
  threshold: formNumber(z.number().optional()),
});

/** The HTTP limits of an image-debugging upload (storeDebugUploads counts the images: at most 32). */
const DEBUG_UPLOAD = { files: 64, fileBytes: limits.imageBytes, totalBytes: 33 * limits.imageBytes };

export const evaluationsRouter = router({
  /** Queues one evaluation of a circuit. Bad parameters: BAD_REQUEST naming the rule; nothing is queued or stored. */
  start: annotatorProcedure
    .input(z.object({ circuitId: id, request: evaluationRequest }))
    .mutation(async ({ ctx, input }) => {
      const facts = factsOf(ctx, input.circuitId);
      const request = checked(ctx, facts, input.request);
      let payload: EvaluationJobPayload;
      if (request.kind === "imageDebug") {
        const ds = ctx.db
          .select({ id: datasets.id })
          .from(datasets)
          .where(eq(datasets.id, request.falsePositives.datasetId))
          .get();
        if (!ds) throw new TRPCError({ code: "NOT_FOUND", message: `no dataset ${request.falsePositives.datasetId}` });
        payload = {
          circuitId: facts.id,
          createdBy: ctx.user.id,
          kind: "imageDebug",
          params: request.params,
          source: { kind: "falsePositives", datasetId: ds.id, limit: request.falsePositives.limit },
        };
      } else if (request.kind === "fidelityOfNeurons") {
        payload = {
          circuitId: facts.id,
          createdBy: ctx.user.id,
          kind: request.kind,
          params: { ...request.params, taus: request.params.taus! },
        };
      } else {
        if (request.kind === "groupMasking" && request.params.images !== "circuit") {
          const src = getEvaluation(ctx.db, request.params.images.debugEvaluation);
          if (!src || src.circuitId !== facts.id || src.kind !== "imageDebug")
            throw new TRPCError({
              code: "BAD_REQUEST",
              message: `no image-debugging result ${request.params.images.debugEvaluation} for this circuit`,
            });
        }
        if (request.kind === "classDependence" && request.params.datasetId != null) {
          const dsId = request.params.datasetId;
          if (!ctx.db.select({ id: datasets.id }).from(datasets).where(eq(datasets.id, dsId)).get())
            throw new TRPCError({ code: "NOT_FOUND", message: `no dataset ${dsId}` });
        }
        payload = { circuitId: facts.id, createdBy: ctx.user.id, ...request } as EvaluationJobPayload;
      }
      return { jobId: (await evaluationJob.enqueue(ctx.queue, payload)).id };
    }),

  /**
   * Image debugging of uploaded images. FormData: `circuitId`, `layerIndex`, optional `topCrops`,
   * `threshold`, and `images` (1–32 files: PNG, JPEG or WebP, checked as dataset uploads are,
   * resized to the model's input size).
   */
  startImageDebug: annotatorProcedure
    .meta({ auth: "annotator", upload: DEBUG_UPLOAD })
    .input(uploadInput)
    .mutation(({ ctx, input }) =>
      withUpload(ctx.storageRoot, input, async (form) => {
        const fields = debugFields.safeParse(textFields(form));
        if (!fields.success) throw new TRPCError({ code: "BAD_REQUEST", message: zodIssuesText(fields.error) });
        const { circuitId, ...rest } = fields.data;
        const params = imageDebugParams.safeParse(
          Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
        );
        if (!params.success) throw new TRPCError({ code: "BAD_REQUEST", message: zodIssuesText(params.error) });
        const facts = factsOf(ctx, circuitId);
        badRequest(() => checkAgainstCircuit(facts, { kind: "imageDebug", params: params.data }));
        const size = ctx.db
          .select({ s: circuits.modelInputSize })
          .from(circuits)
          .where(eq(circuits.id, circuitId))
          .get()!.s;
        const parts = fileFields(form, "images");
        const files = await Promise.all(
          parts.map(async (f) => ({ name: f.name, data: await readFormFile(f, limits.imageBytes) })),
        );
        const { set, names } = await storeDebugUploads(ctx.storageRoot, circuitId, files, size);
        const { id: jobId } = await evaluationJob.enqueue(ctx.queue, {
          circuitId,
          createdBy: ctx.user.id,
          kind: "imageDebug",
          params: params.data,
          source: { kind: "upload", set, names },
        });
        return { jobId, set, names };
      }),
    ),

  /** A circuit's stored results (with their numbers) and its recent evaluation jobs. */
  list: viewerProcedure
    .input(
      z.object({
        circuitId: id,
        kind: z.enum(EVALUATION_KIND_LIST).optional(),
        limit: z.number().int().min(1).max(200).default(100),
      }),
    )
    .query(({ ctx, input }) => {
      const facts = factsOf(ctx, input.circuitId);
      return {
        facts,
        results: listEvaluations(ctx.db, input.circuitId, { kind: input.kind, withResults: true, limit: input.limit }),
        jobs: evaluationJobs(ctx.db, input.circuitId, { kind: input.kind }),
      };
    }),

  /** The recent evaluation jobs of a circuit (polled while one runs). */
  jobs: viewerProcedure.input(z.object({ circuitId: id })).query(({ ctx, input }) => {
    factsOf(ctx, input.circuitId);
    return evaluationJobs(ctx.db, input.circuitId);
  }),

  get: viewerProcedure.input(z.object({ id })).query(({ ctx, input }) => {
    const e = getEvaluation(ctx.db, input.id);
    if (!e) throw new TRPCError({ code: "NOT_FOUND", message: `no evaluation result ${input.id}` });
    return e;
  }),

  /** Cancels a queued or running evaluation job. */
  cancel: annotatorProcedure.input(z.object({ jobId: id })).mutation(async ({ ctx, input }) => {
    const j = ctx.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.id, input.jobId), eq(jobs.kind, "evaluation")))
      .get();
    if (!j) throw new TRPCError({ code: "NOT_FOUND", message: `no evaluation job ${input.jobId}` });
    return { status: await ctx.queue.cancel(j.id) };
  }),

  /** The viewer's faithfulness figure: the newest result and the live job, if any (also for the circuit's share links). */
  faithfulness: sharedReadProcedure.input(z.object({ circuitId: id })).query(({ ctx, input }) => {
    assertCircuitAllowed(ctx, input.circuitId);
    const exists = ctx.db.select({ id: circuits.id }).from(circuits).where(eq(circuits.id, input.circuitId)).get();
    if (!exists) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${input.circuitId}` });
    const latest = ctx.db
      .select({ id: evaluations.id })
      .from(evaluations)
      .where(and(eq(evaluations.circuitId, input.circuitId), eq(evaluations.kind, "faithfulness")))
      .orderBy(evaluations.id)
      .all()
      .at(-1);
    const result = latest ? getEvaluation(ctx.db, latest.id) : null;
    const job = ctx.share
      ? null
      : (evaluationJobs(ctx.db, input.circuitId, { kind: "faithfulness", limit: 1 })[0] ?? null);
    return { result, job, canStart: ctx.user != null && hasRole(ctx.user.role, "annotator") };
  }),
});
