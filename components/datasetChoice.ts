/**
 * Which dataset a form offers first: the one the circuit's run used, then those registered for
 * the model, then the rest (newest first, as listed). A dataset of another model's images is
 * never the silent default while one made for this model exists.
 */
export function orderDatasets<T extends { id: number; modelId: number | null }>(
  list: readonly T[],
  prefer: { datasetId?: number | null; modelId?: number | null },
): T[] {
  const rank = (d: T) =>
    prefer.datasetId != null && d.id === prefer.datasetId
      ? 0
      : prefer.modelId != null && d.modelId === prefer.modelId
        ? 1
        : 2;
  return list
    .map((d, i) => ({ d, i }))
    .sort((a, b) => rank(a.d) - rank(b.d) || a.i - b.i)
    .map(({ d }) => d);
}
