/**
 * Parameters of a concept match of two circuits (isomorphic: the router, the job payload and the
 * compare page use them). Defaults equal the engine's `CONCEPT_MATCH_DEFAULTS`.
 */
import { z } from "zod";

export const CONCEPT_MATCH_PARAM_DEFAULTS = { patchesPerGroup: 8, minStrength: 0.5 } as const;

export const conceptMatchParams = z
  .object({
    /** Concept patches per group in the probe set (the viewer keeps at most 24 per group). */
    patchesPerGroup: z.number().int().min(2).max(24).default(CONCEPT_MATCH_PARAM_DEFAULTS.patchesPerGroup),
    /** Rank correlation at or above which two groups see the same concept. */
    minStrength: z.number().min(-1).max(1).default(CONCEPT_MATCH_PARAM_DEFAULTS.minStrength),
  })
  .strict();
export type ConceptMatchParams = z.infer<typeof conceptMatchParams>;
