/**
 * Labels of neuron groups and explanations of group edges: read (viewers), edit / revert / review
 * (annotators, with optimistic versioning), and label jobs on the queue (annotators start them).
 * Thin: validation and roles here, the work in server/labeling/.
 */
import { labelJob } from "~/server/jobs/kinds/label";
import { TRPCError } from "@trpc/server";
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { circuits, jobs, REVIEW_STATES } from "~/db/schema";
import { loadCircuitForLabels, strongestEdges } from "~/server/labeling/circuitData";
import { labelConfig, publicLabelConfig } from "~/server/labeling/config";
import { annotatorDescription, annotatorExplanationText, annotatorLabelText } from "~/server/labeling/schemas";
import {
  circuitLabels,
  getHead,
  getRevisions,
  LabelTargetError,
  resolveTarget,
  revertTo,
  saveRevision,
  setReview,
  StaleVersionError,
  type LabelTarget,
  type ResolvedTarget,
} from "~/server/labeling/store";
import type { Context } from "../context";
import {
  annotatorProcedure,
  assertCircuitAllowed,
  hasRole,
  router,
  sharedReadProcedure,
  viewerProcedure,
} from "../trpc";

const id = z.number().int().positive();
const docIndex = z.number().int().min(0).max(1_000_000_000);
export const labelTargetInput = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("group"), layer: docIndex, group: docIndex }),
  z.object({ kind: z.literal("edge"), layer: docIndex, child: docIndex, parent: docIndex }),
]);
const version = z.number().int().min(0);

function resolve(ctx: Pick<Context, "db">, circuitId: number, target: LabelTarget): ResolvedTarget {
  try {
    return resolveTarget(ctx.db, circuitId, target);
  } catch (e) {
    if (e instanceof LabelTargetError) throw new TRPCError({ code: "NOT_FOUND", message: e.message });
    throw e;
  }
}

/** A stale version → CONFLICT whose message carries the newer text; an unknown revision → NOT_FOUND. */
function writeErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof StaleVersionError) throw new TRPCError({ code: "CONFLICT", message: e.message, cause: e });
    if (e instanceof LabelTargetError) throw new TRPCError({ code: "NOT_FOUND", message: e.message });
    throw e;
  }
}

function latestLabelJob(ctx: Pick<Context, "db">, circuitId: number) {
  const j = ctx.db
    .select()
    .from(jobs)
    .where(and(eq(jobs.kind, "label"), sql`json_extract(${jobs.payload}, '$.circuitId') = ${circuitId}`))
    .orderBy(desc(jobs.id))
    .limit(1)
    .get();
  if (!j) return null;
  return {
    id: j.id,
    status: j.status,
    progress: j.progress,
    message: j.message,
    error: j.error,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    cancelRequested: j.cancelRequested,
    result: j.result as null | {
      labeled: number;
      explained: number;
      skipped: number;
      notAttempted: number;
      failed: { kind: string; layer: number; group?: number; child?: number; parent?: number; error: string }[];
      calls: number;
      promptTokens: number;
      completionTokens: number;
      capReached: boolean;
      model: string;
    },
    createdAt: j.createdAt,
    finishedAt: j.finishedAt,
  };
}

function requireCircuit(ctx: Pick<Context, "db">, circuitId: number): void {
  if (!ctx.db.select({ id: circuits.id }).from(circuits).where(eq(circuits.id, circuitId)).get())
    throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${circuitId}` });
}

export const labelsRouter = router({
  /** Whether an MLLM endpoint is configured for this server (never the key). */
  config: viewerProcedure.query(() => publicLabelConfig()),

  /** Every current label and explanation of a circuit, plus its latest label job. */
  forCircuit: sharedReadProcedure.input(z.object({ circuitId: id })).query(({ ctx, input }) => {
    assertCircuitAllowed(ctx, input.circuitId);
    requireCircuit(ctx, input.circuitId);
    return { ...circuitLabels(ctx.db, input.circuitId), job: latestLabelJob(ctx, input.circuitId) };
  }),

  /**
   * The summary page's view: every layer entry's groups with their labels, and per parent group its
   * strongest child edges (plus any explained edge) with their explanations; the endpoint state,
   * the latest label job and whether the caller may edit.
   */
  overview: viewerProcedure.input(z.object({ circuitId: id })).query(({ ctx, input }) => {
    const data = loadCircuitForLabels(ctx.db, input.circuitId);
    if (!data) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${input.circuitId}` });
    const current = circuitLabels(ctx.db, input.circuitId);
    const labelOf = new Map(current.groups.map((g) => [`${g.layer}:${g.group}`, g]));
    const explOf = new Map(current.edges.map((e) => [`${e.layer}:${e.child}:${e.parent}`, e]));
    const cfg = publicLabelConfig();
    let perParent = 3;
    try {
      perParent = labelConfig().limits.edgesPerParent;
    } catch {
      /* shown through cfg.error */
    }
    const strongest = new Set(strongestEdges(data.edges, perParent).map((e) => `${e.layer}:${e.child}:${e.parent}`));
    return {
      config: cfg,
      canEdit: hasRole(ctx.user.role, "annotator"),
      job: latestLabelJob(ctx, input.circuitId),
      layers: data.layers.map((l) => ({
        layer: l.idx,
        name: l.upper,
        lower: l.lower,
        groups: data.groups
          .filter((g) => g.layer === l.idx)
          .map((g) => {
            const lb = labelOf.get(`${g.layer}:${g.group}`);
            return {
              group: g.group,
              rowId: g.rowId,
              patchCount: g.patches.length,
              members: g.memberCount,
              label: lb ? { text: lb.text, description: lb.description, review: lb.review, version: lb.version } : null,
            };
          }),
        edges: data.edges
          .filter(
            (e) =>
              e.layer === l.idx &&
              (strongest.has(`${e.layer}:${e.child}:${e.parent}`) || explOf.has(`${e.layer}:${e.child}:${e.parent}`)),
          )
          .sort((a, b) => a.parent - b.parent || Math.abs(b.weight) - Math.abs(a.weight))
          .map((e) => {
            const x = explOf.get(`${e.layer}:${e.child}:${e.parent}`);
            return {
              child: e.child,
              parent: e.parent,
              weight: e.weight,
              explanation: x ? { text: x.text, review: x.review, version: x.version } : null,
            };
          }),
      })),
    };
  }),

  /** One label or explanation: current text, review state, full history; whether the caller may edit. */
  get: sharedReadProcedure.input(z.object({ circuitId: id, target: labelTargetInput })).query(({ ctx, input }) => {
    assertCircuitAllowed(ctx, input.circuitId);
    const t = resolve(ctx, input.circuitId, input.target);
    return {
      target: input.target,
      head: getHead(ctx.db, t),
      revisions: getRevisions(ctx.db, t),
      // share-link holders read only
      canEdit: ctx.user ? hasRole(ctx.user.role, "annotator") : false,
    };
  }),

  save: annotatorProcedure
    .input(
      z.object({
        circuitId: id,
        target: labelTargetInput,
        expectedVersion: version,
        text: z.string().max(10_000),
        description: z.string().max(10_000).nullish(),
        evidence: z.array(z.number().int().min(0)).max(1000).nullish(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const t = resolve(ctx, input.circuitId, input.target);
      const isGroup = input.target.kind === "group";
      const text = (isGroup ? annotatorLabelText : annotatorExplanationText).safeParse(input.text);
      if (!text.success)
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: `${isGroup ? "label" : "explanation"}: ${text.error.issues[0]?.message}`,
        });
      const description = annotatorDescription.safeParse(input.description ?? null);
      if (!description.success)
        throw new TRPCError({ code: "BAD_REQUEST", message: `description: ${description.error.issues[0]?.message}` });
      // evidence names patches of this circuit
      const patchCount =
        ctx.db.select({ n: circuits.patchCount }).from(circuits).where(eq(circuits.id, input.circuitId)).get()?.n ?? 0;
      const outside = input.evidence?.find((p) => p >= patchCount);
      if (outside != null)
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: `evidence: the circuit has ${patchCount} patches; there is no patch ${outside}`,
        });
      const r = writeErrors(() =>
        saveRevision(ctx.db, t, {
          expectedVersion: input.expectedVersion,
          text: text.data,
          description: isGroup ? description.data : null,
          source: "annotator",
          authorId: ctx.user.id,
          evidence: input.evidence ?? getRevisions(ctx.db, t).at(-1)?.evidence ?? null,
        }),
      );
      return r;
    }),

  revert: annotatorProcedure
    .input(z.object({ circuitId: id, target: labelTargetInput, toVersion: version.min(1), expectedVersion: version }))
    .mutation(({ ctx, input }) => {
      const t = resolve(ctx, input.circuitId, input.target);
      return writeErrors(() =>
        revertTo(ctx.db, t, {
          toVersion: input.toVersion,
          expectedVersion: input.expectedVersion,
          authorId: ctx.user.id,
        }),
      );
    }),

  review: annotatorProcedure
    .input(
      z.object({
        circuitId: id,
        target: labelTargetInput,
        expectedVersion: version.min(1),
        review: z.enum(REVIEW_STATES),
      }),
    )
    .mutation(({ ctx, input }) => {
      const t = resolve(ctx, input.circuitId, input.target);
      return writeErrors(() => setReview(ctx.db, t, { expectedVersion: input.expectedVersion, review: input.review }));
    }),

  /** The circuit's latest label job (poll while it runs). */
  job: viewerProcedure
    .input(z.object({ circuitId: id }))
    .query(({ ctx, input }) => latestLabelJob(ctx, input.circuitId)),

  /** Queues a label job; refused when no endpoint is configured or one is already queued/running. */
  start: annotatorProcedure
    .input(
      z.object({
        circuitId: id,
        force: z.boolean().default(false),
        maxCalls: z.number().int().min(1).max(100_000).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const cfg = publicLabelConfig();
      if (!cfg.configured)
        throw new TRPCError({
          code: "PRECONDITION_FAILED",
          message:
            cfg.error ??
            "no MLLM endpoint is configured on this server (set OPENAI_BASE_URL and/or OPENAI_API_KEY, and NEURFLOW_LABEL_MODEL)",
        });
      requireCircuit(ctx, input.circuitId);
      const active = latestLabelJob(ctx, input.circuitId);
      if (active && (active.status === "queued" || active.status === "running"))
        throw new TRPCError({
          code: "CONFLICT",
          message: `a label job for this circuit is already ${active.status} (job ${active.id})`,
        });
      const job = await labelJob.enqueue(ctx.queue, {
        circuitId: input.circuitId,
        force: input.force,
        maxCalls: input.maxCalls,
      });
      return { jobId: job.id };
    }),

  cancel: annotatorProcedure.input(z.object({ circuitId: id })).mutation(async ({ ctx, input }) => {
    const active = ctx.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(
        and(
          eq(jobs.kind, "label"),
          inArray(jobs.status, ["queued", "running"]),
          sql`json_extract(${jobs.payload}, '$.circuitId') = ${input.circuitId}`,
        ),
      )
      .orderBy(desc(jobs.id))
      .get();
    if (!active)
      throw new TRPCError({ code: "NOT_FOUND", message: "no label job of this circuit is queued or running" });
    return { status: await ctx.queue.cancel(active.id) };
  }),
});
