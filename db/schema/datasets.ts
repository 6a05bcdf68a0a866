/** Image sets, one folder per class, and the images in them. */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { models } from "./models";
import { users } from "./users";

export const datasets = sqliteTable("datasets", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  /** "zip" (uploaded, copied under the storage root) or "folder" (a server path, read in place). */
  source: text("source", { enum: ["zip", "folder"] }).notNull(),
  /** Folder with one sub-folder per class. */
  dir: text("dir").notNull(),
  /** Model the images were checked against (size), if any. */
  modelId: integer("model_id").references(() => models.id, { onDelete: "set null" }),
  classCount: integer("class_count").notNull(),
  imageCount: integer("image_count").notNull(),
  createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: integer("created_at").notNull(),
});

export const images = sqliteTable(
  "images",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    datasetId: integer("dataset_id")
      .notNull()
      .references(() => datasets.id, { onDelete: "cascade" }),
    className: text("class_name").notNull(),
    fileName: text("file_name").notNull(),
    width: integer("width").notNull(),
    height: integer("height").notNull(),
    format: text("format").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
  },
  (t) => [
    index("images_dataset_class_idx").on(t.datasetId, t.className),
    uniqueIndex("images_dataset_file_uq").on(t.datasetId, t.className, t.fileName),
  ],
);
