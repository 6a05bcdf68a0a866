/** The `label` job: label a circuit's groups and explain its edges with the MLLM (handler: server/jobs/handlers/labelJob.ts). */
import { z } from "zod";
import { defineJob } from "./defineJob";

export const labelJob = defineJob(
  "label",
  z.object({
    circuitId: z.number().int().positive(),
    /** Relabel what is already labeled (a new model revision on top; nothing is lost). */
    force: z.boolean().default(false),
    maxCalls: z.number().int().positive().optional(),
  }),
  { maxAttempts: 3 },
);
export type LabelJobPayload = z.input<typeof labelJob.payload>;
