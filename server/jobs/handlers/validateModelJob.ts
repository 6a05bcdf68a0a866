/** Load-checks an uploaded model in the worker (the web process never loads TensorFlow.js). */
import { eq } from "drizzle-orm";
import type { Db } from "~/db/client";
import { models } from "~/db/schema";
import type { ModelChecker } from "../engine";
import { validateModelJob, type ValidateModelPayload } from "../kinds/validateModel";
import { PermanentJobError, type JobHandler } from "../worker";

export function validateModelHandler(db: Db, checker: () => Promise<ModelChecker>): JobHandler<ValidateModelPayload> {
  return {
    async run(ctx) {
      const { modelId } = validateModelJob.payload.parse(ctx.job.payload);
      const model = db.select().from(models).where(eq(models.id, modelId)).get();
      if (!model) throw new PermanentJobError(`model ${modelId} no longer exists`);
      const check = await checker();
      let note: string;
      try {
        note = await check(model.manifestPath);
      } catch (e) {
        // the loader names files by their stored path: the user knows them by their own names
        const message = (e instanceof Error ? e.message : String(e))
          .split(`${model.dir}/`)
          .join("")
          .split(model.dir)
          .join("the model's folder");
        throw new PermanentJobError(`the model does not load: ${message}`);
      }
      db.update(models).set({ status: "ready", statusMessage: note }).where(eq(models.id, modelId)).run();
      return { note };
    },
    settled(job, outcome) {
      const parsed = validateModelJob.payload.safeParse(job.payload);
      if (!parsed.success || outcome.status === "succeeded" || outcome.status === "queued") return;
      db.update(models)
        .set({ status: "invalid", statusMessage: outcome.error ?? `check ${outcome.status}` })
        .where(eq(models.id, parsed.data.modelId))
        .run();
    },
  };
}
