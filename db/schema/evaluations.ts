/**
 * Results of the paper's evaluations and applications run on a stored circuit (optimality,
 * fidelity of neurons and of weights, image debugging, group masking, and the viewer's
 * faithfulness figure). One row per finished job; `params` are the parameters as resolved (defaults
 * filled in), `result` the engine's plain result. Deleting the circuit deletes its results.
 */
import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { circuits } from "./circuits";
import { jobs } from "./jobs";
import { users } from "./users";

export const EVALUATION_KINDS = [
  "optimality",
  "fidelityOfNeurons",
  "fidelityOfWeights",
  "imageDebug",
  "groupMasking",
  "faithfulness",
  "classDependence",
] as const;
export type EvaluationKind = (typeof EVALUATION_KINDS)[number];

export const evaluations = sqliteTable(
  "evaluations",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    circuitId: integer("circuit_id")
      .notNull()
      .references(() => circuits.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: EVALUATION_KINDS }).notNull(),
    params: text("params", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    result: text("result", { mode: "json" }).$type<unknown>().notNull(),
    /** The job that computed it (one result per job: a redelivered job does not store twice). */
    jobId: integer("job_id").references(() => jobs.id, { onDelete: "set null" }),
    /** Engine wall time, seconds. */
    seconds: real("seconds"),
    createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("evaluations_circuit_idx").on(t.circuitId, t.kind, t.id),
    uniqueIndex("evaluations_job_uq").on(t.jobId),
  ],
);
