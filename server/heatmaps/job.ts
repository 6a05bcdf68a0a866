/** The `heatmaps` job: payload and lookup of a group's live job (the handler is server/jobs/handlers/heatmapJob.ts). */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "~/db/client";
import { jobs } from "~/db/schema";

export const heatmapJobPayload = z.object({
  circuitId: z.number().int().positive(),
  group: z.number().int().positive(),
});
export type HeatmapJobPayload = z.infer<typeof heatmapJobPayload>;

/** The newest heatmaps job of (circuit, group), if any. */
export function heatmapJobFor(
  db: Db,
  circuitId: number,
  group: number,
  statuses?: ("queued" | "running" | "succeeded" | "failed" | "canceled")[],
) {
  return db
    .select({ id: jobs.id, status: jobs.status, progress: jobs.progress, error: jobs.error })
    .from(jobs)
    .where(
      and(
        eq(jobs.kind, "heatmaps"),
        sql`json_extract(${jobs.payload}, '$.circuitId') = ${circuitId}`,
        sql`json_extract(${jobs.payload}, '$.group') = ${group}`,
        statuses ? inArray(jobs.status, statuses) : undefined,
      ),
    )
    .orderBy(desc(jobs.id))
    .get();
}
