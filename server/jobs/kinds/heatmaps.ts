/** The `heatmaps` job: a neuron group's IG heatmaps (handler: server/jobs/handlers/heatmapJob.ts). */
import { z } from "zod";
import { defineJob } from "./defineJob";

export const heatmapsJob = defineJob(
  "heatmaps",
  z.object({ circuitId: z.number().int().positive(), group: z.number().int().positive() }),
  { maxAttempts: 2 },
);
export type HeatmapJobPayload = z.infer<typeof heatmapsJob.payload>;
