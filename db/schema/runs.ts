/** A request to compute one class's circuit, and what happened to it. */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { CircuitRequest } from "~/server/neurflow/light";
import { datasets } from "./datasets";
import { jobs, JOB_STATUSES } from "./jobs";
import { models } from "./models";
import { users } from "./users";

export type RunParams = NonNullable<CircuitRequest["params"]>;

export interface LayerTiming {
  /** "upper←lower" */
  layer: string;
  /** Wall seconds from the previous checkpoint (or the start) to this layer's checkpoint. */
  seconds: number;
  /** The engine's own per-stage seconds, when it reports them. */
  stages?: Record<string, number>;
}

export const runs = sqliteTable(
  "runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    modelId: integer("model_id")
      .notNull()
      .references(() => models.id, { onDelete: "cascade" }),
    datasetId: integer("dataset_id")
      .notNull()
      .references(() => datasets.id, { onDelete: "cascade" }),
    className: text("class_name").notNull(),
    classIndex: integer("class_index").notNull(),
    /** Layer names, top-down. */
    layers: text("layers", { mode: "json" }).$type<string[]>().notNull(),
    params: text("params", { mode: "json" }).$type<RunParams>().notNull(),
    /** Backend that ran (from the circuit), null until known. */
    backend: text("backend"),
    status: text("status", { enum: JOB_STATUSES }).notNull(),
    jobId: integer("job_id").references(() => jobs.id, { onDelete: "set null" }),
    layerTimings: text("layer_timings", { mode: "json" }).$type<LayerTiming[]>().notNull(),
    error: text("error"),
    createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("runs_model_idx").on(t.modelId, t.createdAt)],
);
