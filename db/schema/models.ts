/** Uploaded classifiers: the model file(s) on disk, their manifest and load-check state. */
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Manifest } from "~/server/neurflow/light";
import { users } from "./users";

export const MODEL_STATUSES = ["validating", "ready", "invalid"] as const;

export const models = sqliteTable("models", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  /** "onnx" or "tfjs-layers" (the manifest's format). */
  format: text("format").notNull(),
  /** Folder holding manifest.json and the model files (absolute, under the storage root). */
  dir: text("dir").notNull(),
  /** Absolute path of manifest.json. */
  manifestPath: text("manifest_path").notNull(),
  /** Absolute path of the model file the manifest names (.onnx or model.json). */
  filePath: text("file_path").notNull(),
  manifest: text("manifest", { mode: "json" }).$type<Manifest>().notNull(),
  /** SHA-256 over the model files, hex. */
  checksum: text("checksum").notNull(),
  sizeBytes: integer("size_bytes").notNull(),
  status: text("status", { enum: MODEL_STATUSES }).notNull(),
  /** Why the load check failed, or a note about it. */
  statusMessage: text("status_message"),
  createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: integer("created_at").notNull(),
});
