/** Stored concept matches of two circuits, and the newest job of a pair (docs/viewer.md, "Compare"). */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "~/db/client";
import { circuits, conceptMatches, jobs, models } from "~/db/schema";
import { circuitImageDir } from "./graph";
import type { ConceptMatchResult } from "~/server/neurflow/light";

/** Stores a job's result; a second store for the same job keeps the first. Returns the row id. */
export function storeConceptMatch(
  db: Db,
  row: {
    circuitA: number;
    circuitB: number;
    params: Record<string, unknown>;
    result: ConceptMatchResult;
    jobId: number | null;
    seconds: number | null;
    createdBy: number | null;
  },
): number {
  const inserted = db
    .insert(conceptMatches)
    .values({ ...row, createdAt: Date.now() })
    .onConflictDoNothing()
    .returning({ id: conceptMatches.id })
    .get();
  if (inserted) return inserted.id;
  const existing =
    row.jobId != null
      ? db.select({ id: conceptMatches.id }).from(conceptMatches).where(eq(conceptMatches.jobId, row.jobId)).get()
      : undefined;
  if (!existing) throw new Error("the concept match could not be stored");
  return existing.id;
}

export interface StoredConceptMatch {
  id: number;
  params: Record<string, unknown>;
  result: ConceptMatchResult;
  seconds: number | null;
  createdAt: number;
}

/** A match of (a, b) read as one of (b, a): the sides swap, the strength matrix transposes. */
export function swapConceptMatch(r: ConceptMatchResult): ConceptMatchResult {
  return {
    ...r,
    probe: r.probe.map((p) => ({ ...p, side: p.side === "a" ? "b" : "a" })),
    a: r.b,
    b: r.a,
    strength: r.b.map((_, j) => r.strength.map((row) => row[j] ?? null)),
    profiles: { a: r.profiles.b, b: r.profiles.a },
  };
}

/**
 * The newest concept match of the pair: of (a, b) as computed, else of (b, a) read the other way
 * round (the match is symmetric: the same probe set, the same correlations).
 */
export function latestConceptMatch(db: Db, a: number, b: number): StoredConceptMatch | null {
  const read = (x: number, y: number) =>
    db
      .select({
        id: conceptMatches.id,
        params: conceptMatches.params,
        result: conceptMatches.result,
        seconds: conceptMatches.seconds,
        createdAt: conceptMatches.createdAt,
      })
      .from(conceptMatches)
      .where(and(eq(conceptMatches.circuitA, x), eq(conceptMatches.circuitB, y)))
      .orderBy(desc(conceptMatches.id))
      .get();
  const direct = read(a, b);
  if (direct) return { ...direct, result: direct.result as ConceptMatchResult };
  const swapped = read(b, a);
  return swapped ? { ...swapped, result: swapConceptMatch(swapped.result as ConceptMatchResult) } : null;
}

/** The newest concept-match job of the ordered pair (a, b). */
export function conceptMatchJobFor(db: Db, a: number, b: number) {
  return (
    db
      .select({
        id: jobs.id,
        status: jobs.status,
        progress: jobs.progress,
        message: jobs.message,
        error: jobs.error,
      })
      .from(jobs)
      .where(
        and(
          eq(jobs.kind, "conceptMatch"),
          sql`json_extract(${jobs.payload}, '$.a') = ${a}`,
          sql`json_extract(${jobs.payload}, '$.b') = ${b}`,
        ),
      )
      .orderBy(desc(jobs.id))
      .get() ?? null
  );
}

/** Why a circuit cannot take part in a concept match, or null when it can (also the router's check). */
export function conceptMatchProblem(db: Db, circuitId: number): string | null {
  const row = db
    .select({ modelId: circuits.modelId, manifestPath: models.manifestPath })
    .from(circuits)
    .leftJoin(models, eq(models.id, circuits.modelId))
    .where(eq(circuits.id, circuitId))
    .get();
  if (!row) return `circuit ${circuitId} does not exist`;
  if (row.modelId == null || !row.manifestPath)
    return `circuit ${circuitId} has no registered model (an imported document): its groups cannot be run`;
  if (!circuitImageDir(db, circuitId)) return `circuit ${circuitId}'s images are not on this server`;
  return null;
}
