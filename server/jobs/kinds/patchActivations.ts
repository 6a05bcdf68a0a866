/** The `patchActivations` job: every neuron group's metric M on all of a circuit's patches (handler: server/jobs/handlers/patchActivationsJob.ts). */
import { z } from "zod";
import { defineJob } from "./defineJob";

export const patchActivationsJob = defineJob(
  "patchActivations",
  z.object({ circuitId: z.number().int().positive() }).strict(),
  { maxAttempts: 2 },
);
export type PatchActivationsJobPayload = z.infer<typeof patchActivationsJob.payload>;
