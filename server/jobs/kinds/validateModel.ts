/** The `validateModel` job: load an uploaded model once (handler: server/jobs/handlers/validateModelJob.ts). */
import { z } from "zod";
import { defineJob } from "./defineJob";

export const validateModelJob = defineJob("validateModel", z.object({ modelId: z.number().int().positive() }), {
  maxAttempts: 2,
});
export type ValidateModelPayload = z.infer<typeof validateModelJob.payload>;
