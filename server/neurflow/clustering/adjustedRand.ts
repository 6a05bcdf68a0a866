/**
 * Adjusted Rand index, reproducing `sklearn.metrics.adjusted_rand_score`.
 *
 * From the pair confusion matrix (counts of ordered sample pairs):
 *   tp = sum_ij C_ij^2 - n,  fp = sum_ij C_ij * colsum_j - sum C^2,
 *   fn = sum_ij C_ij * rowsum_i - sum C^2,  tn = n^2 - tp - fp - fn - n
 *   ARI = 1 if fn = fp = 0, else
 *         2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn))
 * Integer parts are exact (BigInt); the final division is done in float64
 * after rounding numerator and denominator, as Python does.
 */
import { canonicalLabels } from "./cutTree";

function encode(labels: ArrayLike<number>): { codes: Int32Array; count: number } {
  const codes = canonicalLabels(labels);
  // canonical codes are 0, 1, … in order of first appearance
  return { codes, count: codes.reduce((m, c) => Math.max(m, c + 1), 0) };
}

/** Pair confusion matrix [[tn, fp], [fn, tp]] as exact integers. */
export function pairConfusionMatrix(
  labelsTrue: ArrayLike<number>,
  labelsPred: ArrayLike<number>,
): [[bigint, bigint], [bigint, bigint]] {
  const n = labelsTrue.length;
  if (labelsPred.length !== n) throw new RangeError(`label arrays differ in length (${n} vs ${labelsPred.length})`);
  const t = encode(labelsTrue);
  const p = encode(labelsPred);
  const cont = new Map<number, number>();
  const rowSum = new Float64Array(t.count);
  const colSum = new Float64Array(p.count);
  for (let i = 0; i < n; i++) {
    const a = t.codes[i]!;
    const b = p.codes[i]!;
    const key = a * p.count + b;
    cont.set(key, (cont.get(key) ?? 0) + 1);
    rowSum[a]! += 1;
    colSum[b]! += 1;
  }
  let sumSquares = 0n;
  let dotCols = 0n;
  let dotRows = 0n;
  for (const [key, v] of cont) {
    const a = Math.floor(key / p.count);
    const b = key - a * p.count;
    const c = BigInt(v);
    sumSquares += c * c;
    dotCols += c * BigInt(colSum[b]!);
    dotRows += c * BigInt(rowSum[a]!);
  }
  const nn = BigInt(n);
  const tp = sumSquares - nn;
  const fp = dotCols - sumSquares;
  const fn = dotRows - sumSquares;
  const tn = nn * nn - fp - fn - sumSquares;
  return [
    [tn, fp],
    [fn, tp],
  ];
}

/** sklearn `adjusted_rand_score(labelsTrue, labelsPred)`; symmetric in its arguments. */
export function adjustedRandScore(labelsTrue: ArrayLike<number>, labelsPred: ArrayLike<number>): number {
  const [[tn, fp], [fn, tp]] = pairConfusionMatrix(labelsTrue, labelsPred);
  if (fn === 0n && fp === 0n) return 1.0;
  const num = tp * tn - fn * fp;
  const den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
  return (2.0 * Number(num)) / Number(den);
}
