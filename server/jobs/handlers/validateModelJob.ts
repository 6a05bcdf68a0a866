/** Load-checks an uploaded model in the worker (the web process never loads TensorFlow.js). */
import type { Db } from "~/db/client";
import type { ModelChecker } from "../engine";
import { platformOf } from "../platform/local";
import type { WorkerPlatform } from "../platform/port";
import { validateModelJob, type ValidateModelPayload } from "../kinds/validateModel";
import { PermanentJobError, type JobHandler } from "../worker";

export function validateModelHandler(
  on: WorkerPlatform | Db,
  checker: () => Promise<ModelChecker>,
): JobHandler<ValidateModelPayload> {
  const platform = platformOf(on);
  return {
    async run(ctx) {
      const { modelId } = validateModelJob.payload.parse(ctx.job.payload);
      const model = await platform.modelForCheck(modelId);
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
      await platform.setModelStatus(modelId, "ready", note);
      return { note };
    },
    async settled(job, outcome) {
      const parsed = validateModelJob.payload.safeParse(job.payload);
      if (!parsed.success || outcome.status === "succeeded" || outcome.status === "queued") return;
      await platform.setModelStatus(parsed.data.modelId, "invalid", outcome.error ?? `check ${outcome.status}`);
    },
  };
}
