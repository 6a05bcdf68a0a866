/**
 * The stored faithfulness curve of a circuit (evaluation kind "faithfulness") and how the viewer
 * reads it (isomorphic: the job writes it, the viewer and the evaluations page read it).
 *
 * For every threshold of the series and both threshold modes, the job takes the groups the viewer
 * shows (lib/circuits/visibility.ts), keeps only their member neurons at the masked layers and
 * measures the **logit retained** (normalised: 0 = the masked layers emptied, 1 = the full network;
 * the engine's faithfulnessCurve) and the accuracy, against random subsets of as many neurons per
 * layer. Thresholds (of either mode) with the same visible set share one configuration.
 */
import type { FaithfulnessRandom, FaithfulnessReference } from "~/server/neurflow/light";
import { type ThresholdMode, visibilityKey, visibleGroupIds, type VisibilityGraph } from "~/lib/circuits/visibility";

export const FAITHFULNESS_VERSION = 2;

export interface FaithfulnessConfig {
  /** Visible group row ids. */
  groups: number[];
  /** Neurons kept per masked layer (same order as `layers`). */
  neurons: number[];
  /** Mean class logit with only these neurons kept. */
  logit: number;
  logitRetained: number | null;
  accuracy: number;
  random: FaithfulnessRandom | null;
}

export interface FaithfulnessPoint {
  threshold: number;
  config: number;
}

export interface FaithfulnessResult {
  kind: "faithfulness";
  version: typeof FAITHFULNESS_VERSION;
  metric: "logitRetained";
  /** Layers where everything outside the visible groups is zeroed (retain), top-down. */
  layers: string[];
  widths: number[];
  images: number;
  /** Nothing masked / every channel of the masked layers zeroed. */
  full: FaithfulnessReference;
  empty: FaithfulnessReference;
  /** The curve of each threshold mode: one point per threshold. */
  series: Record<ThresholdMode, FaithfulnessPoint[]>;
  configs: FaithfulnessConfig[];
  draws: number;
  seed: number;
  /** Central share of the random draws drawn as the band. */
  interval: number;
  seconds: number;
}

/** Whether a stored result is the current curve (results of the first version held accuracy only). */
export function isFaithfulnessCurve(r: unknown): r is FaithfulnessResult {
  return typeof r === "object" && r !== null && (r as { version?: unknown }).version === FAITHFULNESS_VERSION;
}

/**
 * The configuration shown at a threshold: found by the set of visible groups (exact at any threshold
 * whose set the job computed, in either mode), else the nearest computed threshold below.
 */
export function faithfulnessAt(
  result: FaithfulnessResult,
  graph: VisibilityGraph,
  threshold: number,
  mode: ThresholdMode = "global",
): { config: FaithfulnessConfig; exact: boolean } | null {
  const key = visibilityKey(visibleGroupIds(graph, threshold, mode));
  const exact = result.configs.findIndex((c) => visibilityKey(c.groups) === key);
  if (exact >= 0) return { config: result.configs[exact]!, exact: true };
  const points = result.series[mode];
  const below =
    [...points].filter((p) => p.threshold <= threshold).sort((a, b) => b.threshold - a.threshold)[0] ?? points[0];
  return below ? { config: result.configs[below.config]!, exact: false } : null;
}
