/**
 * The class-dependence report as data (`kind: "classDependence"`): its zod schema, so that a stored
 * or exported report (e.g. attached to a circuit's JSON export) can be validated where it is read.
 * No TensorFlow.js here: the light entry exports it. The engine's `classDependence` returns exactly
 * this shape (tested).
 */
import { z } from "zod";

const effectSchema = z.object({
  images: z.number().int().nonnegative(),
  logitDrop: z.number(),
  logitDropInterval: z.tuple([z.number(), z.number()]),
  logit: z.number(),
  flips: z.number().min(0).max(1),
  predicted: z.number().int().nonnegative(),
  random: z.object({
    mean: z.number(),
    low: z.number(),
    high: z.number(),
    flipsMean: z.number(),
    flipsLow: z.number(),
    flipsHigh: z.number(),
  }),
  percentile: z.number().min(0).max(1),
  pValue: z.number().gt(0).max(1),
  exceedsRandom: z.boolean(),
});

export const classDependenceSchema = z.object({
  kind: z.literal("classDependence"),
  class: z.object({ index: z.number().int().nonnegative(), name: z.string() }),
  params: z.object({
    draws: z.number().int().positive(),
    seed: z.number().int(),
    level: z.number().gt(0).lt(1),
    falsePositiveLimit: z.number().int().nonnegative(),
    contextRatio: z.number().positive(),
    minExplained: z.number().min(0).max(1),
    mThreshold: z.number().positive(),
    pairs: z.array(z.number().int().positive()),
    classImages: z.number().int().positive(),
    otherImages: z.number().int().nonnegative(),
  }),
  unmasked: z.object({ classAccuracy: z.number().min(0).max(1), otherAssigned: z.number().min(0).max(1) }),
  falsePositives: z.array(
    z.object({
      image: z.number().int().nonnegative(),
      name: z.string().optional(),
      trueClass: z.number().int().nonnegative().optional(),
      assigned: z.boolean(),
      logit: z.number(),
      margin: z.number(),
    }),
  ),
  groups: z.array(
    z.object({
      rank: z.number().int().positive(),
      pairIndex: z.number().int().positive(),
      layer: z.string(),
      groupId: z.number().int().nonnegative(),
      neurons: z.array(z.number().int().nonnegative()).min(1),
      layerWidth: z.number().int().positive(),
      excessDrop: z.number(),
      classImages: effectSchema,
      falsePositives: effectSchema.nullable(),
      nearMisses: effectSchema.nullable(),
      metricM: z.object({
        classImages: z.number(),
        classShows: z.number(),
        falsePositives: z.number().nullable(),
        falsePositiveShows: z.number().nullable(),
        nearMisses: z.number().nullable(),
      }),
      explains: z.array(z.number().int().nonnegative()),
      flipsFalsePositives: z.array(z.number().int().nonnegative()),
      biasCandidate: z.boolean(),
      flag: z.object({ classDependence: z.boolean(), falsePositiveShare: z.boolean(), contextLike: z.boolean() }),
      conceptPatches: z.array(
        z.object({
          patch: z.number().int().nonnegative(),
          box: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]),
          image: z.string(),
          score: z.number(),
        }),
      ),
    }),
  ),
  seconds: z.number().nonnegative(),
});

/** Validates a stored or imported class-dependence report; throws a clear error. */
export function parseClassDependence(value: unknown): z.infer<typeof classDependenceSchema> {
  const r = classDependenceSchema.safeParse(value);
  if (!r.success) {
    const first = r.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`not a class-dependence report: ${first.join("; ")}`);
  }
  return r.data;
}
