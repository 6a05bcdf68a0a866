/**
 * Core concept neurons: the τ lower-layer channels with the largest importance for a target.
 * Importance of channel c over the target's top patches p:
 *   "absMean" (reference, the authors' code): mean_p |IG[p][c]|
 *   "meanAbs" (the paper's Eq. 2):            |mean_p IG[p][c]|
 */
export type ImportanceMode = "absMean" | "meanAbs";

export function channelImportance(
  perPatch: Float32Array,
  patches: number,
  channels: number,
  mode: ImportanceMode,
): Float64Array {
  const out = new Float64Array(channels);
  for (let p = 0; p < patches; p++) {
    const row = p * channels;
    for (let c = 0; c < channels; c++) {
      const v = perPatch[row + c]!;
      out[c]! += mode === "absMean" ? Math.abs(v) : v;
    }
  }
  for (let c = 0; c < channels; c++) out[c] = mode === "absMean" ? out[c]! / patches : Math.abs(out[c]! / patches);
  return out;
}

/** Indices of the `k` largest values, descending; ties go to the lower index. */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  return idx.slice(0, k);
}

export function selectCoreNeurons(importance: Float64Array, tau: number): number[] {
  if (tau > importance.length) throw new Error(`τ = ${tau} is larger than the layer's ${importance.length} channels`);
  return topIndices(importance, tau);
}
