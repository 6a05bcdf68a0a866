/**
 * Labels of neuron groups and explanations of group edges, each a chain of revisions with
 * provenance. `version` on the head row is the optimistic-concurrency token: an edit names the
 * version it read, and a stale one is refused.
 */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { circuits, groupEdges, neuronGroups } from "./circuits";
import { users } from "./users";

export const REVIEW_STATES = ["unreviewed", "reviewed", "disputed"] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];
export const REVISION_SOURCES = ["model", "annotator", "revert"] as const;

export const labels = sqliteTable(
  "labels",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    circuitId: integer("circuit_id")
      .notNull()
      .references(() => circuits.id, { onDelete: "cascade" }),
    neuronGroupId: integer("neuron_group_id")
      .notNull()
      .references(() => neuronGroups.id, { onDelete: "cascade" }),
    /** Text of the current revision (denormalised for search and the graph). */
    text: text("text").notNull(),
    description: text("description"),
    version: integer("version").notNull(),
    review: text("review", { enum: REVIEW_STATES }).notNull().default("unreviewed"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("labels_group_uq").on(t.neuronGroupId), index("labels_circuit_idx").on(t.circuitId)],
);

export const labelRevisions = sqliteTable(
  "label_revisions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    labelId: integer("label_id")
      .notNull()
      .references(() => labels.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    text: text("text").notNull(),
    description: text("description"),
    source: text("source", { enum: REVISION_SOURCES }).notNull(),
    /** MLLM name and prompt version for a model revision. */
    modelName: text("model_name"),
    promptVersion: text("prompt_version"),
    authorId: integer("author_id").references(() => users.id, { onDelete: "set null" }),
    /** Patch indices shown to the model / cited by the annotator. */
    evidence: text("evidence", { mode: "json" }).$type<number[]>(),
    promptTokens: integer("prompt_tokens"),
    completionTokens: integer("completion_tokens"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("label_revisions_uq").on(t.labelId, t.version)],
);

export const explanations = sqliteTable(
  "explanations",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    circuitId: integer("circuit_id")
      .notNull()
      .references(() => circuits.id, { onDelete: "cascade" }),
    groupEdgeId: integer("group_edge_id")
      .notNull()
      .references(() => groupEdges.id, { onDelete: "cascade" }),
    text: text("text").notNull(),
    version: integer("version").notNull(),
    review: text("review", { enum: REVIEW_STATES }).notNull().default("unreviewed"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("explanations_edge_uq").on(t.groupEdgeId), index("explanations_circuit_idx").on(t.circuitId)],
);

export const explanationRevisions = sqliteTable(
  "explanation_revisions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    explanationId: integer("explanation_id")
      .notNull()
      .references(() => explanations.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    text: text("text").notNull(),
    source: text("source", { enum: REVISION_SOURCES }).notNull(),
    modelName: text("model_name"),
    promptVersion: text("prompt_version"),
    authorId: integer("author_id").references(() => users.id, { onDelete: "set null" }),
    evidence: text("evidence", { mode: "json" }).$type<number[]>(),
    promptTokens: integer("prompt_tokens"),
    completionTokens: integer("completion_tokens"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("explanation_revisions_uq").on(t.explanationId, t.version)],
);
