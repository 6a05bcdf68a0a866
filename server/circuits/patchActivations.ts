/**
 * Every neuron group's activation over all of its circuit's patches, for the patch context (the
 * group's histogram with one patch marked). A group's activation on a patch is metric M (paper
 * §5.1, `server/neurflow/metricM.ts`): the geometric mean over its member neurons of activation /
 * reference activation, where the reference is the member's mean activation over its concept
 * patches — so a typical concept patch scores about 1, and the authors read ≥ 0.6 as "shows the
 * concept". The circuit document keeps each neuron's activation on its top-k patches only, so the
 * values on every other patch are computed again: one forward pass of the model over the circuit's
 * own patches (each layer's spatial means, as the run computed them), in the worker
 * (`patchActivations` job, once per circuit, on request), kept as
 * `<renders>/activations.json` (the computation: `patchActivationsCompute.ts`, worker only). What is kept per group is small whatever the circuit's size: a
 * histogram of M over all patches (HISTOGRAM_BINS bins from 0 to the largest value), and M with its
 * percentile for each of the group's concept patches (the ones the panel shows).
 */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { Db } from "~/db/client";
import { jobs } from "~/db/schema";
import { rendersDir } from "./renders";

export const HISTOGRAM_BINS = 40;
/** The authors' threshold of metric M for "the patch shows the group's concept". */
export const M_THRESHOLD = 0.6;

const groupActivationsSchema = z.object({
  /** Upper edge of the histogram (its lower edge is 0); the bins are equal. */
  max: z.number().nonnegative(),
  counts: z.array(z.number().int().nonnegative()),
  /** Patches with M ≥ M_THRESHOLD. */
  above: z.number().int().nonnegative(),
  /** [patch index, M, fraction of all patches with a lower M] per concept patch. */
  concept: z.array(z.tuple([z.number().int().nonnegative(), z.number(), z.number().min(0).max(1)])),
});
export type GroupActivations = z.infer<typeof groupActivationsSchema>;

const fileSchema = z.object({
  format: z.literal("neurflow-patch-activations/1"),
  patches: z.number().int().nonnegative(),
  seconds: z.number(),
  /** Keyed by neuron-group row id. */
  groups: z.record(z.string(), groupActivationsSchema),
});
export type PatchActivationsFile = z.infer<typeof fileSchema>;

export function activationsPath(root: string, circuitId: number): string {
  return join(rendersDir(root, circuitId), "activations.json");
}

/** One group's stored activations, or null while none were computed (or the file is unreadable). */
export function readGroupActivations(
  root: string,
  circuitId: number,
  groupRowId: number,
): { group: GroupActivations | null; patches: number } | null {
  let raw: string;
  try {
    raw = readFileSync(activationsPath(root, circuitId), "utf8");
  } catch {
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null; // a damaged file reads as "not computed"; a new request computes it again
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) return null;
  return { group: parsed.data.groups[String(groupRowId)] ?? null, patches: parsed.data.patches };
}

/** Whether a readable activations file exists for the circuit (a damaged one counts as not computed). */
export function activationsComputed(root: string, circuitId: number): boolean {
  return readGroupActivations(root, circuitId, 0) != null;
}

/** The newest `patchActivations` job of a circuit, if any. */
export function activationsJobFor(
  db: Db,
  circuitId: number,
  statuses?: ("queued" | "running" | "succeeded" | "failed" | "canceled")[],
) {
  return (
    db
      .select({ id: jobs.id, status: jobs.status, progress: jobs.progress, error: jobs.error })
      .from(jobs)
      .where(
        and(
          eq(jobs.kind, "patchActivations"),
          sql`json_extract(${jobs.payload}, '$.circuitId') = ${circuitId}`,
          statuses ? inArray(jobs.status, statuses) : undefined,
        ),
      )
      .orderBy(desc(jobs.id))
      .get() ?? null
  );
}

/** Histogram, count above the threshold and the concept patches' values and percentiles of one group's M over all patches. */
export function summarise(perPatch: ArrayLike<number>, concept: number[], bins = HISTOGRAM_BINS): GroupActivations {
  const n = perPatch.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (perPatch[i]! > max) max = perPatch[i]!;
  const counts = new Array<number>(bins).fill(0);
  let above = 0;
  for (let i = 0; i < n; i++) {
    const v = perPatch[i]!;
    counts[max > 0 ? Math.min(bins - 1, Math.floor((v / max) * bins)) : 0]!++;
    if (v >= M_THRESHOLD) above++;
  }
  const sorted = Float64Array.from(perPatch).sort();
  const below = (v: number) => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const round = (v: number) => Number(v.toPrecision(5));
  return {
    max: round(max),
    counts,
    above,
    concept: concept
      .filter((p) => p < n)
      .map((p) => [p, round(perPatch[p]!), n > 0 ? round(below(perPatch[p]!) / n) : 0] as [number, number, number]),
  };
}
