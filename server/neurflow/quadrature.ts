/**
 * Quadrature rules on [0, 1] for integrated gradients: IG ≈ (x − x0) · Σ wᵢ ∇f(x0 + αᵢ (x − x0)).
 * Gauss–Legendre is the reference default; the right Riemann sum is an option. Both rules' weights
 * sum to exactly 1.
 */
export type QuadratureMethod = "gausslegendre" | "riemann";

export interface QuadratureRule {
  alphas: Float64Array;
  weights: Float64Array;
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
  const alphas = new Float64Array(steps);
  const weights = new Float64Array(steps).fill(1 / steps);
  for (let i = 0; i < steps; i++) alphas[i] = (i + 1) / steps;
  return { alphas, weights };
}
