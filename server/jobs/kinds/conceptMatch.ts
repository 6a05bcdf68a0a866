/**
 * The `conceptMatch` job: matches the neuron groups of two stored circuits by what they see
 * (handler: server/jobs/handlers/conceptMatchJob.ts; docs/viewer.md, "Compare"). Validated when
 * queued and again by the worker.
 */
import { z } from "zod";
import { conceptMatchParams } from "~/lib/circuits/conceptMatchParams";
import { defineJob } from "./defineJob";

const id = z.number().int().positive();

export const conceptMatchJob = defineJob(
  "conceptMatch",
  z
    .object({ a: id, b: id, createdBy: id.nullable(), params: conceptMatchParams })
    .strict()
    .refine((p) => p.a !== p.b, "a circuit is compared with another circuit"),
  { maxAttempts: 2 },
);
export type ConceptMatchJobPayload = z.infer<typeof conceptMatchJob.payload>;
