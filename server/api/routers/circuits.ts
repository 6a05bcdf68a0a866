/** Stored circuits: list, summary, JSON export and import, delete. */
import { TRPCError } from "@trpc/server";
import { latestClassDependence } from "~/server/evaluations/store";
import { and, asc, count, desc, eq, inArray, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { rm } from "node:fs/promises";
import { z } from "zod";
import { circuitLayers, circuits, circuitTargets, groupEdges, models, neuronGroups } from "~/db/schema";
import { rendersDir } from "~/server/circuits/renders";
import { exportCircuit, importCircuit } from "~/server/circuits/store";
import { evaluationsDir } from "~/server/evaluations/store";
import { parseCircuit } from "~/server/neurflow/light";
import { adminProcedure, annotatorProcedure, router, viewerProcedure } from "../trpc";

const id = z.number().int().positive();

export const circuitsRouter = router({
  list: viewerProcedure
    .input(
      z.object({
        modelId: id.optional(),
        className: z.string().max(200).optional(),
        limit: z.number().int().min(1).max(500).default(50),
      }),
    )
    .query(({ ctx, input }) =>
      ctx.db
        .select({
          id: circuits.id,
          modelId: circuits.modelId,
          // the name the model is registered under; the document's own name when the model is gone
          modelName: sql<string>`coalesce(${models.name}, ${circuits.modelName})`,
          className: circuits.className,
          params: circuits.params,
          runId: circuits.runId,
          layerCount: circuits.layerCount,
          targetCount: circuits.targetCount,
          neuronGroupCount: circuits.neuronGroupCount,
          storedAt: circuits.storedAt,
        })
        .from(circuits)
        .leftJoin(models, eq(models.id, circuits.modelId))
        .where(
          and(
            input.modelId ? eq(circuits.modelId, input.modelId) : undefined,
            input.className ? eq(circuits.className, input.className) : undefined,
          ),
        )
        .orderBy(desc(circuits.storedAt), desc(circuits.id))
        .limit(input.limit)
        .all()
        .map(({ params, ...c }) => ({ ...c, tau: params.tau, k: params.k, backend: params.backend })),
    ),

  /** Header plus per-layer counts: what the plain summary page shows. */
  get: viewerProcedure.input(z.object({ id })).query(({ ctx, input }) => {
    const c = ctx.db.select().from(circuits).where(eq(circuits.id, input.id)).get();
    if (!c) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${input.id}` });
    const layers = ctx.db
      .select()
      .from(circuitLayers)
      .where(eq(circuitLayers.circuitId, c.id))
      .orderBy(asc(circuitLayers.idx))
      .all();
    const ids = layers.map((l) => l.id);
    const countBy = (rows: { layerId: number; n: number }[]) => new Map(rows.map((r) => [r.layerId, r.n]));
    const where = (col: SQLiteColumn) => (ids.length ? inArray(col, ids) : sql`0`);
    const targets = countBy(
      ctx.db
        .select({ layerId: circuitTargets.layerId, n: count() })
        .from(circuitTargets)
        .where(where(circuitTargets.layerId))
        .groupBy(circuitTargets.layerId)
        .all(),
    );
    const groups = countBy(
      ctx.db
        .select({ layerId: neuronGroups.layerId, n: count() })
        .from(neuronGroups)
        .where(where(neuronGroups.layerId))
        .groupBy(neuronGroups.layerId)
        .all(),
    );
    const edges = countBy(
      ctx.db
        .select({ layerId: groupEdges.layerId, n: count() })
        .from(groupEdges)
        .where(where(groupEdges.layerId))
        .groupBy(groupEdges.layerId)
        .all(),
    );
    const model = c.modelId
      ? ctx.db.select({ id: models.id, name: models.name }).from(models).where(eq(models.id, c.modelId)).get()
      : undefined;
    return {
      id: c.id,
      runId: c.runId,
      model: model ?? null,
      modelName: c.modelName,
      className: c.className,
      classIndex: c.classIndex,
      params: c.params,
      createdAt: c.createdAt,
      storedAt: c.storedAt,
      timings: c.timings,
      patchCount: c.patchCount,
      layers: layers.map((l) => ({
        upper: l.upper,
        lower: l.lower,
        targets: targets.get(l.id) ?? 0,
        neuronGroups: groups.get(l.id) ?? 0,
        groupEdges: edges.get(l.id) ?? 0,
        timings: l.timings,
      })),
    };
  }),

  /** The `neurflow-circuit/1` document, exactly as stored. */
  export: viewerProcedure.input(z.object({ id })).query(({ ctx, input }) => {
    const doc = exportCircuit(ctx.db, input.id);
    if (!doc) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${input.id}` });
    // the newest class-dependence report rides along (docs/circuit-format.md); an import ignores it
    const dependence = latestClassDependence(ctx.db, input.id);
    return dependence ? { ...doc, classDependence: dependence } : doc;
  }),

  import: annotatorProcedure
    .input(z.object({ document: z.unknown(), modelId: id.optional() }))
    .mutation(({ ctx, input }) => {
      let doc;
      try {
        doc = parseCircuit(input.document);
      } catch (e) {
        throw new TRPCError({ code: "BAD_REQUEST", message: (e as Error).message });
      }
      if (input.modelId != null) {
        const m = ctx.db.select({ manifest: models.manifest }).from(models).where(eq(models.id, input.modelId)).get();
        if (!m) throw new TRPCError({ code: "NOT_FOUND", message: `no model ${input.modelId}` });
        if (m.manifest.classes.join("\n") !== doc.model.classes.join("\n"))
          throw new TRPCError({
            code: "BAD_REQUEST",
            message: "the circuit's class list differs from the model's: it was computed on another model",
          });
        if (m.manifest.input.size !== doc.model.inputSize)
          throw new TRPCError({
            code: "BAD_REQUEST",
            message: `the circuit was computed at ${doc.model.inputSize} px; the model takes ${m.manifest.input.size} px`,
          });
        const known = new Set(m.manifest.layers.map((l) => l.name));
        const unknown = [...new Set(doc.layers.flatMap((l) => [l.upper, l.lower]))].filter((n) => !known.has(n));
        if (unknown.length)
          throw new TRPCError({
            code: "BAD_REQUEST",
            message: `the model has no layer ${unknown.map((n) => `"${n}"`).join(", ")}: the circuit was computed on another model`,
          });
      }
      try {
        return { id: importCircuit(ctx.db, doc, { modelId: input.modelId ?? null, storedBy: ctx.user.id }) };
      } catch (e) {
        throw new TRPCError({ code: "BAD_REQUEST", message: `cannot store the circuit: ${(e as Error).message}` });
      }
    }),

  delete: adminProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    const r = ctx.db.delete(circuits).where(eq(circuits.id, input.id)).returning({ id: circuits.id }).get();
    if (!r) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${input.id}` });
    // its rendered patches, mosaics and heatmaps (share links went with the rows)
    await rm(rendersDir(ctx.storageRoot, input.id), { recursive: true, force: true });
    // images uploaded for its evaluations (the result rows went with the circuit)
    await rm(evaluationsDir(ctx.storageRoot, input.id), { recursive: true, force: true });
    return { ok: true };
  }),
});
