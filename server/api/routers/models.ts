/** Models: list, detail (classes, layers, runs), upload, delete. */
import { validateModelJob } from "~/server/jobs/kinds/validateModel";
import { TRPCError } from "@trpc/server";
import { desc, eq, sql } from "drizzle-orm";
import { rm } from "node:fs/promises";
import { z } from "zod";
import { circuits, datasets, models, runs } from "~/db/schema";
import { limits } from "~/server/storage/limits";
import { storeModelUpload, type UploadedFile } from "~/server/storage/models";
import { isInside } from "~/server/storage/paths";
import { fileField, fileFields, readFormFile, textFields, uploadInput, withUpload, type FormFile } from "../formData";
import { adminProcedure, annotatorProcedure, router, viewerProcedure } from "../trpc";

const id = z.number().int().positive();
const uploadFields = z.object({ name: z.string().trim().max(200).optional() });
/** A manifest, an ONNX file or model.json, and up to 200 weight files. */
const MODEL_UPLOAD = {
  files: 203,
  fileBytes: limits.modelBytes,
  totalBytes: limits.modelBytes + 2 * limits.manifestBytes + 64 * 1024 * 1024,
};
const bytesOf = async (f: FormFile): Promise<UploadedFile> => ({
  name: f.name,
  data: await readFormFile(f, limits.modelBytes),
});

export const modelsRouter = router({
  list: viewerProcedure.query(({ ctx }) =>
    ctx.db
      .select({
        id: models.id,
        name: models.name,
        format: models.format,
        status: models.status,
        statusMessage: models.statusMessage,
        sizeBytes: models.sizeBytes,
        createdAt: models.createdAt,
        classCount: models.manifest,
      })
      .from(models)
      .orderBy(desc(models.createdAt))
      .all()
      .map((m) => ({ ...m, classCount: m.classCount.classes.length })),
  ),

  get: viewerProcedure.input(z.object({ id })).query(({ ctx, input }) => {
    const m = ctx.db.select().from(models).where(eq(models.id, input.id)).get();
    if (!m) throw new TRPCError({ code: "NOT_FOUND", message: `no model ${input.id}` });
    const modelRuns = ctx.db
      .select()
      .from(runs)
      .where(eq(runs.modelId, m.id))
      .orderBy(desc(runs.createdAt))
      .limit(100)
      .all();
    const modelCircuits = ctx.db
      .select({
        id: circuits.id,
        className: circuits.className,
        tau: circuits.params,
        runId: circuits.runId,
        storedAt: circuits.storedAt,
      })
      .from(circuits)
      .where(eq(circuits.modelId, m.id))
      .orderBy(desc(circuits.storedAt))
      .all()
      .map((c) => ({ ...c, tau: c.tau.tau }));
    // each dataset with the classes it has images of, so the run form offers only classes it can run
    const ds = ctx.db
      .select({
        id: datasets.id,
        name: datasets.name,
        modelId: datasets.modelId,
        classList: sql<
          string | null
        >`(select group_concat(c, char(10)) from (select distinct i.class_name as c from images i where i.dataset_id = "datasets"."id" order by c))`,
      })
      .from(datasets)
      .orderBy(desc(datasets.createdAt))
      .all()
      .map(({ classList, ...d }) => ({ ...d, classes: classList ? classList.split("\n") : [] }));
    return {
      id: m.id,
      name: m.name,
      format: m.format,
      status: m.status,
      statusMessage: m.statusMessage,
      checksum: m.checksum,
      sizeBytes: m.sizeBytes,
      createdAt: m.createdAt,
      inputSize: m.manifest.input.size,
      classes: m.manifest.classes,
      /** Top-down, as a run takes them. */
      layers: [...m.manifest.layers].reverse().map((l) => l.name),
      runs: modelRuns,
      circuits: modelCircuits,
      datasets: ds,
    };
  }),

  /**
   * FormData: `manifest` (JSON file) and either `onnx`, or `modelJson` + `weights` (repeated);
   * optional `name`. Checked here, load-checked by the worker (status "validating" until then).
   */
  upload: annotatorProcedure
    .meta({ auth: "annotator", upload: MODEL_UPLOAD })
    .input(uploadInput)
    .mutation(({ ctx, input }) =>
      withUpload(ctx.storageRoot, input, async (form) => {
        const fields = uploadFields.safeParse(textFields(form));
        if (!fields.success)
          throw new TRPCError({ code: "BAD_REQUEST", message: `name: ${fields.error.issues[0]?.message}` });
        const manifest = fileField(form, "manifest", true);
        const onnx = fileField(form, "onnx");
        const modelJson = fileField(form, "modelJson");
        const stored = await storeModelUpload(ctx.storageRoot, {
          manifest: await bytesOf(manifest),
          onnx: onnx && (await bytesOf(onnx)),
          modelJson: modelJson && (await bytesOf(modelJson)),
          weights: await Promise.all(fileFields(form, "weights").map(bytesOf)),
        });
        try {
          const row = ctx.db
            .insert(models)
            .values({
              name: fields.data.name || stored.manifest.name,
              format: stored.manifest.format,
              dir: stored.dir,
              manifestPath: stored.manifestPath,
              filePath: stored.filePath,
              manifest: stored.manifest,
              checksum: stored.checksum,
              sizeBytes: stored.sizeBytes,
              status: "validating",
              createdBy: ctx.user.id,
              createdAt: Date.now(),
            })
            .returning({ id: models.id, name: models.name, status: models.status })
            .get();
          const job = await validateModelJob.enqueue(ctx.queue, { modelId: row.id });
          return { ...row, jobId: job.id };
        } catch (e) {
          await rm(stored.dir, { recursive: true, force: true });
          throw e;
        }
      }),
    ),

  delete: adminProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    const m = ctx.db.select().from(models).where(eq(models.id, input.id)).get();
    if (!m) throw new TRPCError({ code: "NOT_FOUND", message: `no model ${input.id}` });
    ctx.db.delete(models).where(eq(models.id, input.id)).run();
    if (isInside(ctx.storageRoot, m.dir)) await rm(m.dir, { recursive: true, force: true });
    return { ok: true };
  }),
});
