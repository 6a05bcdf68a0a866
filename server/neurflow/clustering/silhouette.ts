/**
 * Silhouette coefficient, reproducing `sklearn.metrics.silhouette_samples` /
 * `silhouette_score(X, labels)` with the Euclidean metric:
 *
 *   a(i) = mean distance from i to the other members of its cluster
 *   b(i) = min over other clusters C of the mean distance from i to C
 *   s(i) = (b - a) / max(a, b), and 0 when i is alone in its cluster
 *          (or when a = b = 0)
 *   score = mean of s(i)
 *
 * Number type: sklearn keeps float32 data in float32: every squared distance
 * is rounded to float32 and square-rooted in float32, the per-cluster sums are
 * stored as float32 and the remaining arithmetic (means, differences, ratio,
 * the final mean) is float32. Rows given as `Float32Array`s follow that path
 * (`precision: "auto"`), so the result matches sklearn on a numpy float32
 * matrix; any other rows are float64 throughout. Summation orders follow
 * numpy (sample order for the per-cluster sums, pairwise summation for the
 * mean).
 *
 * Distances here are computed directly (sum of squared differences) rather
 * than with sklearn's `|x|^2 - 2x.y + |y|^2` expansion, so results agree with
 * sklearn to that expansion's rounding error: about 1e-16 on ordinary data,
 * but up to ~1e-6 on near-duplicate points, where this value is the exact one.
 */
import { pdistSquaredEuclidean, type Rows } from "./ward";

export type SilhouettePrecision = "auto" | "float64" | "float32";

/** Whether sklearn would hold these rows as float32 (every row a Float32Array). */
export function isFloat32Rows(rows: Rows): boolean {
  if (rows.length === 0) return false;
  for (const r of rows) if (!(r instanceof Float32Array)) return false;
  return true;
}

/**
 * Condensed Euclidean distances as sklearn's silhouette sees them: float64
 * `sqrt(d2)`, or, for float32 data, `float32(sqrt(float32(d2)))`.
 */
export function silhouetteDistances(rows: Rows, precision: SilhouettePrecision = "auto"): Float64Array | Float32Array {
  return silhouetteDistancesFromSquared(pdistSquaredEuclidean(rows), resolvePrecision(rows, precision));
}

/** As {@link silhouetteDistances}, from condensed squared distances (not modified). */
export function silhouetteDistancesFromSquared(
  squared: Float64Array,
  precision: "float64" | "float32",
): Float64Array | Float32Array {
  if (precision === "float32") {
    const out = new Float32Array(squared.length);
    for (let p = 0; p < squared.length; p++) out[p] = Math.sqrt(Math.fround(squared[p]!));
    return out;
  }
  const out = new Float64Array(squared.length);
  for (let p = 0; p < squared.length; p++) out[p] = Math.sqrt(squared[p]!);
  return out;
}

function resolvePrecision(rows: Rows, precision: SilhouettePrecision): "float64" | "float32" {
  if (precision === "auto") return isFloat32Rows(rows) ? "float32" : "float64";
  return precision;
}

/** Maps arbitrary integer labels to 0..L-1 (sorted order, like sklearn's LabelEncoder). */
function encodeLabels(labels: ArrayLike<number>): { codes: Int32Array; count: number } {
  const uniq = Array.from(new Set(Array.from(labels))).sort((a, b) => a - b);
  const index = new Map<number, number>();
  uniq.forEach((v, i) => index.set(v, i));
  const codes = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) codes[i] = index.get(labels[i]!)!;
  return { codes, count: uniq.length };
}

/**
 * Per-sample silhouette values from a condensed distance matrix of n samples.
 * A `Float32Array` matrix means float32 data and follows sklearn's float32
 * arithmetic: per-cluster distance sums accumulated in float64 in sample
 * order and stored as float32, and every later step rounded to float32.
 * Throws, like sklearn, unless 2 <= number of distinct labels <= n - 1.
 */
export function silhouetteSamplesFromDistances(
  condensed: Float64Array | Float32Array,
  n: number,
  labels: ArrayLike<number>,
): Float64Array {
  if (labels.length !== n) throw new RangeError(`got ${labels.length} labels for ${n} samples`);
  if (condensed.length !== (n * (n - 1)) / 2) throw new RangeError("condensed matrix size does not match n");
  const r: (x: number) => number = condensed instanceof Float32Array ? Math.fround : (x) => x;
  const { codes, count } = encodeLabels(labels);
  if (count < 2 || count > n - 1) {
    throw new RangeError(`Number of labels is ${count}. Valid values are 2 to n_samples - 1 (inclusive)`);
  }
  const freq = new Float64Array(count);
  for (let i = 0; i < n; i++) freq[codes[i]!]! += 1;
  // sums[i * count + c] = sum of distances from sample i to cluster c, accumulated
  // in increasing sample order (as numpy's bincount does).
  const sums = new Float64Array(n * count);
  let p = 0;
  for (let i = 0; i < n; i++) {
    const ci = codes[i]!;
    const bi = i * count;
    for (let j = i + 1; j < n; j++) {
      const d = condensed[p++]!;
      const u = bi + codes[j]!;
      const v = j * count + ci;
      sums[u] = sums[u]! + d;
      sums[v] = sums[v]! + d;
    }
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ci = codes[i]!;
    const bi = i * count;
    const own = freq[ci]!;
    if (own <= 1) {
      out[i] = 0; // singleton cluster: sklearn's 0/0 -> nan -> 0
      continue;
    }
    const a = r(r(sums[bi + ci]!) / (own - 1));
    let b = Infinity;
    for (let c = 0; c < count; c++) {
      if (c === ci) continue;
      const m = r(r(sums[bi + c]!) / freq[c]!);
      if (m < b) b = m;
    }
    const s = r(r(b - a) / Math.max(a, b));
    out[i] = Number.isFinite(s) ? s : 0; // a = b = 0 gives nan -> 0
  }
  return out;
}

/**
 * Mean of the per-sample silhouette values, summed like numpy's `mean`
 * (pairwise summation; in float32 for float32 data).
 */
export function silhouetteScoreFromDistances(
  condensed: Float64Array | Float32Array,
  n: number,
  labels: ArrayLike<number>,
): number {
  const s = silhouetteSamplesFromDistances(condensed, n, labels);
  if (condensed instanceof Float32Array) return Math.fround(numpySum(s, Math.fround) / n);
  return numpySum(s, (x) => x) / n;
}

/** sklearn `silhouette_samples(X, labels)` (Euclidean). */
export function silhouetteSamples(
  rows: Rows,
  labels: ArrayLike<number>,
  precision: SilhouettePrecision = "auto",
): Float64Array {
  return silhouetteSamplesFromDistances(silhouetteDistances(rows, precision), rows.length, labels);
}

/** sklearn `silhouette_score(X, labels)` (Euclidean, all samples). */
export function silhouetteScore(
  rows: Rows,
  labels: ArrayLike<number>,
  precision: SilhouettePrecision = "auto",
): number {
  return silhouetteScoreFromDistances(silhouetteDistances(rows, precision), rows.length, labels);
}

/**
 * numpy's summation of a contiguous 1-D array: pairwise summation with an
 * 8-way unrolled base case of up to 128 elements, over buffer-sized blocks of
 * 8192 elements; `round` gives the accumulator precision.
 */
function numpySum(v: Float64Array, round: (x: number) => number): number {
  let total = 0;
  for (let lo = 0; lo < v.length; lo += 8192) {
    total = round(total + pairwise(v, lo, Math.min(v.length, lo + 8192) - lo, round));
  }
  return total;
}

function pairwise(v: Float64Array, lo: number, n: number, round: (x: number) => number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = round(res + v[lo + i]!);
    return res;
  }
  if (n <= 128) {
    const acc = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) acc[j] = v[lo + j]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) acc[j] = round(acc[j]! + v[lo + i + j]!);
    }
    let res = round(
      round(round(acc[0]! + acc[1]!) + round(acc[2]! + acc[3]!)) +
        round(round(acc[4]! + acc[5]!) + round(acc[6]! + acc[7]!)),
    );
    for (; i < n; i++) res = round(res + v[lo + i]!);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return round(pairwise(v, lo, n2, round) + pairwise(v, lo + n2, n - n2, round));
}
