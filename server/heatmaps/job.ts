/** The newest `heatmaps` job of a group (the job's definition: server/jobs/kinds/heatmaps.ts). */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "~/db/client";
import { jobs } from "~/db/schema";

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
