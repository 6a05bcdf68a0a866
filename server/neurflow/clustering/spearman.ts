/**
 * Spearman rank correlation, reproducing `scipy.stats.spearmanr(a, b)` for two
 * 1-D samples (two-sided p-value, NaNs propagate):
 *   - ranks with ties given their average rank (`rankdata(method="average")`);
 *   - Pearson correlation of the ranks in numpy's `corrcoef` operation order;
 *   - p-value from Student's t with n - 2 degrees of freedom,
 *     t = r * sqrt((n - 2) / ((r + 1)(1 - r))).
 * Fewer than 2 observations, a constant input, or a NaN give NaN.
 */

/** Ranks 1..n, ties receiving the mean of their positions (scipy `rankdata`, "average"). */
export function rankData(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i);
  // Stable sort by value; order among equal values does not affect average ranks.
  order.sort((i, j) => values[i]! - values[j]!);
  const ranks = new Float64Array(n);
  let start = 0;
  while (start < n) {
    let end = start + 1;
    while (end < n && values[order[end]!] === values[order[start]!]) end++;
    // positions start..end-1 (0-based) -> ranks start+1..end; average = (start + 1 + end) / 2
    const r = (start + 1 + end) / 2;
    for (let p = start; p < end; p++) ranks[order[p]!] = r;
    start = end;
  }
  return ranks;
}

export interface SpearmanResult {
  correlation: number;
  pvalue: number;
}

/** scipy `spearmanr(a, b)` (two-sided). */
export function spearmanr(a: ArrayLike<number>, b: ArrayLike<number>): SpearmanResult {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`samples differ in length (${n} vs ${b.length})`);
  const nan = { correlation: NaN, pvalue: NaN };
  if (n <= 1) return nan;
  let constA = true;
  let constB = true;
  for (let i = 1; i < n; i++) {
    if (a[i] !== a[0]) constA = false;
    if (b[i] !== b[0]) constB = false;
  }
  if (constA || constB) return nan;
  for (let i = 0; i < n; i++) if (Number.isNaN(a[i]!) || Number.isNaN(b[i]!)) return nan;
  const r = pearsonLikeNumpy(rankData(a), rankData(b));
  const dof = n - 2;
  const q = dof / ((r + 1.0) * (1.0 - r));
  const t = r * Math.sqrt(q < 0 ? 0 : q); // NaN stays NaN (numpy clip keeps NaN)
  const pvalue = 2 * studentTCdf(-Math.abs(t), dof);
  return { correlation: r, pvalue };
}

/** Spearman correlation coefficient only. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return spearmanr(a, b).correlation;
}

/** Pearson correlation in numpy `corrcoef` order: c = X Xᵀ * (1/(n-1)), then c10 / sd1 / sd0, clipped to [-1, 1]. */
function pearsonLikeNumpy(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i]!;
    sy += y[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  const f = 1 / (n - 1);
  const r = (sxy * f) / Math.sqrt(syy * f) / Math.sqrt(sxx * f);
  return Math.min(1, Math.max(-1, r));
}

/**
 * Student's t cumulative distribution P(T <= t) for integer degrees of freedom
 * (scipy `special.stdtr`), via the closed-form finite series for
 * A(t|nu) = P(|T| <= |t|) (Abramowitz & Stegun 26.7.3-26.7.4).
 */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0) || !Number.isInteger(df)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const at = Math.abs(t);
  const denom = df + at * at;
  const cos2 = df / denom; // cos^2(theta), theta = atan(|t| / sqrt(df))
  const sin = at / Math.sqrt(denom);
  let A: number;
  if (df % 2 === 0) {
    // A = sin(theta) * (1 + 1/2 cos^2 + (1*3)/(2*4) cos^4 + ... up to cos^(df-2))
    let term = 1;
    let sum = 1;
    for (let m = 1; m <= (df - 2) / 2; m++) {
      term *= ((2 * m - 1) / (2 * m)) * cos2;
      sum += term;
    }
    A = sin * sum;
  } else {
    const theta = Math.atan2(at, Math.sqrt(df));
    if (df === 1) {
      A = (2 / Math.PI) * theta;
    } else {
      // A = 2/pi * (theta + sin*cos*(1 + 2/3 cos^2 + (2*4)/(3*5) cos^4 + ... up to cos^(df-3)))
      const cos = Math.sqrt(cos2);
      let term = 1;
      let sum = 1;
      for (let m = 1; m <= (df - 3) / 2; m++) {
        term *= ((2 * m) / (2 * m + 1)) * cos2;
        sum += term;
      }
      A = (2 / Math.PI) * (theta + sin * cos * sum);
    }
  }
  const tail = (1 - A) / 2; // P(T <= -|t|)
  return t < 0 ? tail : 1 - tail;
}
