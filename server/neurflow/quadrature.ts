/**
 * Quadrature rules on [0, 1] for integrated gradients: IG ≈ (x − x0) · Σ wᵢ ∇f(x0 + αᵢ (x − x0)).
 * Gauss–Legendre is the reference default; the right Riemann sum is an option; Gauss–Kronrod
 * (15 nodes) carries the 7-node Gauss rule on 7 of its nodes, so one pass gives a result and an
 * error estimate. Every rule's weights sum to 1.
 */
export type QuadratureMethod = "gausslegendre" | "riemann" | "gausskronrod";

/** The node count of the Gauss–Kronrod rule (G7–K15). */
export const GAUSS_KRONROD_NODES = 15;

export interface QuadratureRule {
  alphas: Float64Array;
  weights: Float64Array;
  /**
   * A coarser rule on the same nodes (its weights, 0 on the nodes it does not use): the same
   * evaluations weighted so give a second result whose difference from the first over-estimates
   * the first one's error (Gauss–Kronrod's embedded Gauss rule).
   */
  embedded?: Float64Array;
}

/** Legendre polynomial P_n(x) and its derivative, by the three-term recurrence. */
function legendre(n: number, x: number): { p: number; dp: number } {
  let p0 = 1;
  let p1 = x;
  for (let k = 2; k <= n; k++) {
    const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
    p0 = p1;
    p1 = p2;
  }
  const p = n === 0 ? 1 : p1;
  const dp = n === 0 ? 0 : (n * (x * p1 - p0)) / (x * x - 1);
  return { p, dp };
}

/** Gauss–Legendre nodes and weights on [−1, 1], ascending nodes (Newton from Chebyshev guesses). */
export function gaussLegendre(n: number): { nodes: Float64Array; weights: Float64Array } {
  if (!Number.isInteger(n) || n < 1) throw new Error(`quadrature needs at least one node, got ${n}`);
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  if (n === 1) {
    nodes[0] = 0;
    weights[0] = 2;
    return { nodes, weights };
  }
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    for (let it = 0; it < 100; it++) {
      const { p, dp } = legendre(n, x);
      const dx = p / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    const { dp } = legendre(n, x);
    const w = 2 / ((1 - x * x) * dp * dp);
    nodes[i] = -x;
    nodes[n - 1 - i] = x;
    weights[i] = w;
    weights[n - 1 - i] = w;
  }
  if (n % 2 === 1) nodes[(n - 1) / 2] = 0;
  return { nodes, weights };
}

export function quadratureRule(method: QuadratureMethod, steps: number): QuadratureRule {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`integrated gradients needs ≥ 1 step, got ${steps}`);
  if (method === "gausslegendre") {
    const { nodes, weights } = gaussLegendre(steps);
    return { alphas: nodes.map((x) => 0.5 * (1 + x)), weights: weights.map((w) => 0.5 * w) };
  }
  if (method === "gausskronrod") {
    if (steps !== GAUSS_KRONROD_NODES)
      throw new Error(`the Gauss–Kronrod rule has ${GAUSS_KRONROD_NODES} nodes (G7–K15), got ${steps}`);
    const { nodes, weights, embedded } = gaussKronrod15();
    return {
      alphas: nodes.map((x) => 0.5 * (1 + x)),
      weights: weights.map((w) => 0.5 * w),
      embedded: embedded.map((w) => 0.5 * w),
    };
  }
  const alphas = new Float64Array(steps);
  const weights = new Float64Array(steps).fill(1 / steps);
  for (let i = 0; i < steps; i++) alphas[i] = (i + 1) / steps;
  return { alphas, weights };
}

/**
 * The 15-node Gauss–Kronrod rule on [−1, 1] and its embedded 7-node Gauss rule (the published
 * constants of the G7–K15 pair, to double precision; nodes ±x₁ … ±x₇ and 0, the Gauss nodes are every
 * second one). The
 * Kronrod rule integrates polynomials up to degree 22 exactly, the Gauss rule up to 13 (tested).
 */
const K15_NODES = [
  0.9914553711208126, 0.9491079123427585, 0.8648644233597691, 0.7415311855993945, 0.5860872354676911,
  0.4058451513773972, 0.20778495500789848, 0,
];
const K15_WEIGHTS = [
  0.022935322010529224, 0.06309209262997856, 0.10479001032225019, 0.14065325971552592, 0.1690047266392679,
  0.19035057806478542, 0.20443294007529889, 0.20948214108472782,
];
const G7_WEIGHTS = [0.1294849661688697, 0.27970539148927664, 0.3818300505051189, 0.4179591836734694];

/** Gauss–Kronrod G7–K15 on [−1, 1], ascending nodes, with the embedded Gauss weights (0 off its nodes). */
export function gaussKronrod15(): { nodes: Float64Array; weights: Float64Array; embedded: Float64Array } {
  const nodes = new Float64Array(15);
  const weights = new Float64Array(15);
  const embedded = new Float64Array(15);
  for (let i = 0; i < 8; i++) {
    const x = K15_NODES[i]!;
    // ascending: −x₁ … −x₇, 0, x₇ … x₁
    nodes[i] = -x;
    nodes[14 - i] = x;
    weights[i] = K15_WEIGHTS[i]!;
    weights[14 - i] = K15_WEIGHTS[i]!;
    if (i % 2 === 1) {
      embedded[i] = G7_WEIGHTS[(i - 1) / 2]!;
      embedded[14 - i] = G7_WEIGHTS[(i - 1) / 2]!;
    }
  }
  return { nodes, weights, embedded };
}

/** The embedded rule of `rule` on its own nodes (the nodes it uses), or null where it has none. */
export function embeddedRule(rule: QuadratureRule): QuadratureRule | null {
  if (!rule.embedded) return null;
  const keep = [...rule.embedded.keys()].filter((i) => rule.embedded![i] !== 0);
  return {
    alphas: Float64Array.from(keep, (i) => rule.alphas[i]!),
    weights: Float64Array.from(keep, (i) => rule.embedded![i]!),
  };
}
