/**
 * Concept matches of two circuits (docs/viewer.md, "Compare"): the engine's `conceptMatch` result
 * for the ordered pair (A, B), one row per finished job. Deleting either circuit deletes the row.
 */
import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { circuits } from "./circuits";
import { jobs } from "./jobs";
import { users } from "./users";

export const conceptMatches = sqliteTable(
  "concept_matches",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    circuitA: integer("circuit_a")
      .notNull()
      .references(() => circuits.id, { onDelete: "cascade" }),
    circuitB: integer("circuit_b")
      .notNull()
      .references(() => circuits.id, { onDelete: "cascade" }),
    params: text("params", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    result: text("result", { mode: "json" }).$type<unknown>().notNull(),
    /** The job that computed it (a redelivered job does not store twice). */
    jobId: integer("job_id").references(() => jobs.id, { onDelete: "set null" }),
    seconds: real("seconds"),
    createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("concept_matches_pair_idx").on(t.circuitA, t.circuitB, t.id),
    uniqueIndex("concept_matches_job_uq").on(t.jobId),
  ],
);
