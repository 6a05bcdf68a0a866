/** The `circuit` job: compute a run's circuit (handler: server/jobs/handlers/circuitJob.ts). */
import { z } from "zod";
import { defineJob } from "./defineJob";

export const circuitJob = defineJob("circuit", z.object({ runId: z.number().int().positive() }), { maxAttempts: 3 });
export type CircuitJobPayload = z.infer<typeof circuitJob.payload>;
