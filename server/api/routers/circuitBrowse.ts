/** Browsing circuits: by model and class, search over class names and labels, sorting. */
import { and, asc, desc, eq, exists, or, sql } from "drizzle-orm";
import { z } from "zod";
import { circuits, labels, models } from "~/db/schema";
import { router, viewerProcedure } from "../trpc";

export const BROWSE_SORTS = ["newest", "oldest", "class", "groups"] as const;

/** `%q%` with LIKE's wildcards taken literally. */
export function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export const circuitBrowseRouter = router({
  search: viewerProcedure
    .input(
      z.object({
        q: z.string().trim().max(200).default(""),
        modelId: z.number().int().positive().optional(),
        sort: z.enum(BROWSE_SORTS).default("newest"),
        limit: z.number().int().min(1).max(500).default(100),
      }),
    )
    .query(({ ctx, input }) => {
      const pat = likePattern(input.q);
      const labelMatch = ctx.db
        .select({ one: sql`1` })
        .from(labels)
        .where(and(eq(labels.circuitId, circuits.id), sql`${labels.text} like ${pat} escape '\\'`));
      const order = {
        newest: [desc(circuits.storedAt), desc(circuits.id)],
        oldest: [asc(circuits.storedAt), asc(circuits.id)],
        class: [asc(circuits.className), desc(circuits.id)],
        groups: [desc(circuits.neuronGroupCount), desc(circuits.id)],
      }[input.sort];
      const rows = ctx.db
        .select({
          id: circuits.id,
          modelId: circuits.modelId,
          // the name the model is registered under; the document's own name when the model is gone
          modelName: sql<string>`coalesce(${models.name}, ${circuits.modelName})`,
          className: circuits.className,
          params: circuits.params,
          layerCount: circuits.layerCount,
          neuronGroupCount: circuits.neuronGroupCount,
          storedAt: circuits.storedAt,
        })
        .from(circuits)
        .leftJoin(models, eq(models.id, circuits.modelId))
        .where(
          and(
            input.modelId ? eq(circuits.modelId, input.modelId) : undefined,
            input.q ? or(sql`${circuits.className} like ${pat} escape '\\'`, exists(labelMatch)) : undefined,
          ),
        )
        .orderBy(...order)
        .limit(input.limit)
        .all();
      const matched = (cid: number) =>
        input.q
          ? ctx.db
              .select({ text: labels.text })
              .from(labels)
              .where(and(eq(labels.circuitId, cid), sql`${labels.text} like ${pat} escape '\\'`))
              .limit(3)
              .all()
              .map((l) => l.text)
          : [];
      return rows.map(({ params, ...c }) => ({ ...c, tau: params.tau, k: params.k, matchedLabels: matched(c.id) }));
    }),
});
