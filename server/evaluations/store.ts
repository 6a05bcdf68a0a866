/**
 * Evaluation results of a circuit: what the checks need to know of the circuit, storing a finished
 * job's result (once per job), listing and reading them, and where uploaded images live.
 */
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { join } from "node:path";
import type { Db } from "~/db/client";
import {
  circuitImages,
  circuitLayers,
  circuits,
  evaluations,
  jobs,
  neuronGroups,
  users,
  type EvaluationKind,
} from "~/db/schema";
import { circuitImageDir } from "~/server/circuits/graph";
import type { CircuitFacts, EvaluationKindName } from "~/lib/evaluations/params";

// the schema's kinds and the isomorphic list are the same
const _sameKinds: [EvaluationKind, EvaluationKindName] = ["optimality", "optimality"];
void _sameKinds;

/** Folder of a circuit's uploaded (or selected) evaluation images: `<root>/evaluations/<circuit>/`. */
export function evaluationsDir(root: string, circuitId: number): string {
  return join(root, "evaluations", String(circuitId));
}

/** One set of images (an upload, or a dataset's false positives): `<i>.png` at the model input size. */
export function imageSetDir(root: string, circuitId: number, setId: string): string {
  return join(evaluationsDir(root, circuitId), setId);
}

export { imageSetIdPattern } from "~/server/jobs/kinds/evaluation";

export function circuitFacts(db: Db, circuitId: number): CircuitFacts | null {
  const c = db
    .select({ id: circuits.id, params: circuits.params, patchCount: circuits.patchCount, modelId: circuits.modelId })
    .from(circuits)
    .where(eq(circuits.id, circuitId))
    .get();
  if (!c) return null;
  const layers = db
    .select({ id: circuitLayers.id, upper: circuitLayers.upper, lower: circuitLayers.lower })
    .from(circuitLayers)
    .where(eq(circuitLayers.circuitId, circuitId))
    .orderBy(asc(circuitLayers.idx))
    .all();
  const groups = layers.length
    ? db
        .select({ layerId: neuronGroups.layerId, groupId: neuronGroups.groupId })
        .from(neuronGroups)
        .where(
          inArray(
            neuronGroups.layerId,
            layers.map((l) => l.id),
          ),
        )
        .orderBy(asc(neuronGroups.idx))
        .all()
    : [];
  const imageCount =
    db.select({ n: sql<number>`count(*)` }).from(circuitImages).where(eq(circuitImages.circuitId, circuitId)).get()
      ?.n ?? 0;
  return {
    id: c.id,
    tau: c.params.tau,
    patchCount: c.patchCount,
    imageCount,
    modelId: c.modelId,
    hasImages: circuitImageDir(db, circuitId) != null,
    layers: layers.map((l) => ({
      upper: l.upper,
      lower: l.lower,
      groupIds: groups.filter((g) => g.layerId === l.id).map((g) => g.groupId),
    })),
  };
}

export interface StoredEvaluation {
  id: number;
  circuitId: number;
  kind: EvaluationKind;
  params: Record<string, unknown>;
  result: unknown;
  jobId: number | null;
  seconds: number | null;
  createdBy: string | null;
  createdAt: number;
}

/** Stores a job's result; a second store for the same job (redelivered job) keeps the first. Returns the row id. */
export function storeEvaluation(
  db: Db,
  row: {
    circuitId: number;
    kind: EvaluationKind;
    params: Record<string, unknown>;
    result: unknown;
    jobId: number | null;
    seconds: number | null;
    createdBy: number | null;
  },
): number {
  const inserted = db
    .insert(evaluations)
    .values({ ...row, createdAt: Date.now() })
    .onConflictDoNothing()
    .returning({ id: evaluations.id })
    .get();
  if (inserted) return inserted.id;
  const existing =
    row.jobId != null
      ? db.select({ id: evaluations.id }).from(evaluations).where(eq(evaluations.jobId, row.jobId)).get()
      : undefined;
  if (!existing) throw new Error("the evaluation result could not be stored");
  return existing.id;
}

const selection = {
  id: evaluations.id,
  circuitId: evaluations.circuitId,
  kind: evaluations.kind,
  params: evaluations.params,
  jobId: evaluations.jobId,
  seconds: evaluations.seconds,
  createdBy: users.username,
  createdAt: evaluations.createdAt,
};

/** A circuit's results (newest first), without their result bodies unless `withResults`. */
export function listEvaluations(
  db: Db,
  circuitId: number,
  opts: { kind?: EvaluationKind; withResults?: boolean; limit?: number } = {},
): StoredEvaluation[] {
  const rows = db
    .select({ ...selection, result: opts.withResults ? evaluations.result : sql<null>`null` })
    .from(evaluations)
    .leftJoin(users, eq(users.id, evaluations.createdBy))
    .where(and(eq(evaluations.circuitId, circuitId), opts.kind ? eq(evaluations.kind, opts.kind) : undefined))
    .orderBy(desc(evaluations.id))
    .limit(opts.limit ?? 200)
    .all();
  return rows;
}

export function getEvaluation(db: Db, id: number): StoredEvaluation | null {
  return (
    db
      .select({ ...selection, result: evaluations.result })
      .from(evaluations)
      .leftJoin(users, eq(users.id, evaluations.createdBy))
      .where(eq(evaluations.id, id))
      .get() ?? null
  );
}

export interface EvaluationJobRow {
  id: number;
  status: string;
  progress: number;
  message: string | null;
  error: string | null;
  cancelRequested: boolean;
  kind: EvaluationKind;
  createdAt: number;
  finishedAt: number | null;
  evaluationId: number | null;
}

/** The circuit's evaluation jobs, newest first (live ones and recent finished ones). */
export function evaluationJobs(
  db: Db,
  circuitId: number,
  opts: { live?: boolean; kind?: EvaluationKind; limit?: number } = {},
): EvaluationJobRow[] {
  return db
    .select({
      id: jobs.id,
      status: jobs.status,
      progress: jobs.progress,
      message: jobs.message,
      error: jobs.error,
      cancelRequested: jobs.cancelRequested,
      kind: sql<EvaluationKind>`json_extract(${jobs.payload}, '$.kind')`,
      createdAt: jobs.createdAt,
      finishedAt: jobs.finishedAt,
      evaluationId: evaluations.id,
    })
    .from(jobs)
    .leftJoin(evaluations, eq(evaluations.jobId, jobs.id))
    .where(
      and(
        eq(jobs.kind, "evaluation"),
        sql`json_extract(${jobs.payload}, '$.circuitId') = ${circuitId}`,
        opts.kind ? sql`json_extract(${jobs.payload}, '$.kind') = ${opts.kind}` : undefined,
        opts.live ? inArray(jobs.status, ["queued", "running"]) : undefined,
      ),
    )
    .orderBy(desc(jobs.id))
    .limit(opts.limit ?? 20)
    .all();
}

/** The newest class-dependence report of a circuit (for the JSON export), with its id, date and parameters. */
export function latestClassDependence(
  db: Db,
  circuitId: number,
): { evaluationId: number; createdAt: number; params: Record<string, unknown>; report: unknown } | null {
  const row = db
    .select({
      id: evaluations.id,
      createdAt: evaluations.createdAt,
      params: evaluations.params,
      result: evaluations.result,
    })
    .from(evaluations)
    .where(and(eq(evaluations.circuitId, circuitId), eq(evaluations.kind, "classDependence")))
    .orderBy(desc(evaluations.id))
    .get();
  return row ? { evaluationId: row.id, createdAt: row.createdAt, params: row.params, report: row.result } : null;
}
