/** Datasets: list, detail, zip upload, server folder registration, delete. */
import { TRPCError } from "@trpc/server";
import { count, desc, eq, sql } from "drizzle-orm";
import { rm } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import type { Db } from "~/db/client";
import { datasets, images, models } from "~/db/schema";
import type { ImportedDataset, DatasetCheckRules } from "~/server/storage/datasets";
import { importDatasetZip, resolveDatasetFolder, scanDatasetFolder } from "~/server/storage/datasets";
import { limits, UploadError } from "~/server/storage/limits";
import { isInside } from "~/server/storage/paths";
import { fileField, formNumber, textFields, uploadInput, withUpload } from "../formData";
import { adminProcedure, annotatorProcedure, router, viewerProcedure, zodIssuesText } from "../trpc";

const id = z.number().int().positive();
const name = z.string().trim().min(1, "a dataset needs a name").max(200);

function rulesFor(db: Db, modelId: number | undefined): DatasetCheckRules {
  if (modelId == null) return {};
  const m = db.select({ manifest: models.manifest }).from(models).where(eq(models.id, modelId)).get();
  if (!m) throw new TRPCError({ code: "NOT_FOUND", message: `no model ${modelId}` });
  return { classes: m.manifest.classes, minSide: m.manifest.input.size };
}

function insertDataset(
  db: Db,
  d: ImportedDataset,
  meta: { name: string; source: "zip" | "folder"; modelId: number | undefined; userId: number },
) {
  return db.transaction((tx) => {
    // names tell datasets apart in every form: one name, one dataset
    if (tx.select({ id: datasets.id }).from(datasets).where(eq(datasets.name, meta.name)).get())
      throw new TRPCError({
        code: "CONFLICT",
        message: `a dataset named "${meta.name}" exists already; choose another name`,
      });
    const row = tx
      .insert(datasets)
      .values({
        name: meta.name,
        source: meta.source,
        dir: d.dir,
        modelId: meta.modelId ?? null,
        classCount: d.classes.length,
        imageCount: d.images.length,
        createdBy: meta.userId,
        createdAt: Date.now(),
      })
      .returning()
      .get();
    for (let i = 0; i < d.images.length; i += 400)
      tx.insert(images)
        .values(
          d.images.slice(i, i + 400).map((im) => ({
            datasetId: row.id,
            className: im.className,
            fileName: im.fileName,
            width: im.width,
            height: im.height,
            format: im.format,
            sizeBytes: im.sizeBytes,
          })),
        )
        .run();
    return { id: row.id, name: row.name, classes: d.classes, imageCount: d.images.length };
  });
}

/** NEURFLOW_DATASET_ROOTS (":"-separated): server folders that may be registered. Unset: any absolute path. */
function allowedRoots(): string[] | null {
  const v = process.env.NEURFLOW_DATASET_ROOTS;
  return v
    ? v
        .split(":")
        .filter(Boolean)
        .map((p) => resolve(p))
    : null;
}

export const datasetsRouter = router({
  list: viewerProcedure.query(({ ctx }) =>
    ctx.db
      .select({
        id: datasets.id,
        name: datasets.name,
        source: datasets.source,
        modelId: datasets.modelId,
        classCount: datasets.classCount,
        imageCount: datasets.imageCount,
        createdAt: datasets.createdAt,
      })
      .from(datasets)
      .orderBy(desc(datasets.createdAt))
      .all(),
  ),

  get: viewerProcedure.input(z.object({ id })).query(({ ctx, input }) => {
    const d = ctx.db.select().from(datasets).where(eq(datasets.id, input.id)).get();
    if (!d) throw new TRPCError({ code: "NOT_FOUND", message: `no dataset ${input.id}` });
    const classes = ctx.db
      .select({
        className: images.className,
        images: count(),
        minSide: sql<number>`min(min(${images.width}, ${images.height}))`,
      })
      .from(images)
      .where(eq(images.datasetId, d.id))
      .groupBy(images.className)
      .orderBy(images.className)
      .all();
    return {
      id: d.id,
      name: d.name,
      source: d.source,
      modelId: d.modelId,
      imageCount: d.imageCount,
      createdAt: d.createdAt,
      classes,
    };
  }),

  /** FormData: `file` (zip), `name`, optional `modelId` (checks class names and image sizes against it). */
  uploadZip: annotatorProcedure
    .meta({ auth: "annotator", upload: { files: 1, fileBytes: limits.zipBytes, totalBytes: limits.zipBytes } })
    .input(uploadInput)
    .mutation(({ ctx, input }) =>
      withUpload(ctx.storageRoot, input, async (form) => {
        const fields = z
          .object({ name, modelId: formNumber(z.number().int().positive().optional()) })
          .safeParse(textFields(form));
        if (!fields.success) throw new TRPCError({ code: "BAD_REQUEST", message: zodIssuesText(fields.error) });
        const file = fileField(form, "file", true);
        const rules = rulesFor(ctx.db, fields.data.modelId);
        const d = await importDatasetZip(ctx.storageRoot, file.path, rules);
        try {
          return insertDataset(ctx.db, d, {
            name: fields.data.name,
            source: "zip",
            modelId: fields.data.modelId,
            userId: ctx.user.id,
          });
        } catch (e) {
          await rm(d.dir, { recursive: true, force: true });
          throw e;
        }
      }),
    ),

  /** Registers a folder on the server (read in place). Admins only: it reads the server's disk. */
  registerFolder: adminProcedure
    .input(
      z.object({
        name,
        path: z.string().min(1).max(4096).refine(isAbsolute, "the folder path must be absolute"),
        modelId: id.optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const rules = rulesFor(ctx.db, input.modelId);
      let d: ImportedDataset;
      try {
        d = await scanDatasetFolder(await resolveDatasetFolder(resolve(input.path), allowedRoots()), rules);
      } catch (e) {
        if (e instanceof UploadError) throw new TRPCError({ code: "BAD_REQUEST", message: e.message });
        throw e;
      }
      return insertDataset(ctx.db, d, {
        name: input.name,
        source: "folder",
        modelId: input.modelId,
        userId: ctx.user.id,
      });
    }),

  delete: adminProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    const d = ctx.db.select().from(datasets).where(eq(datasets.id, input.id)).get();
    if (!d) throw new TRPCError({ code: "NOT_FOUND", message: `no dataset ${input.id}` });
    ctx.db.delete(datasets).where(eq(datasets.id, input.id)).run();
    // a registered server folder is not ours to delete
    if (d.source === "zip" && isInside(ctx.storageRoot, d.dir)) await rm(d.dir, { recursive: true, force: true });
    return { ok: true };
  }),
});
