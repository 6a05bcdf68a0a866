/**
 * The affine prefix of a slice. Integrated gradients evaluates a slice at αx for many α; the part
 * of the slice that is affine in x (convolutions, batch normalisation, padding, additions, pooling
 * by averages, a dense layer…, up to the first nonlinearity) satisfies z(αx) = z(0) + α(z(x) − z(0)),
 * so it runs once per patch instead of once per (patch, α); and since its backward pass is linear
 * and the same at every α, Σᵢ wᵢ ∇ₓf(αᵢx) = Lᵀ(Σᵢ wᵢ ∇_z f) also runs once per patch. The
 * "frontier" is where the prefix ends: the affine tensors that a nonlinear node reads (or the
 * slice's output itself, when the whole slice is affine). For a ResNet block, the block's first
 * convolution and its batch normalisation (and a downsample path) leave the per-step work.
 */

/**
 * How a node is affine in its inputs (absent: not affine, or unknown):
 * - "joint": affine in all its non-constant inputs together (Add, Sub, Concat, pooling by means);
 * - "first": affine in input 0 when every other input is constant (Conv and its weights, Reshape);
 * - "one": affine when exactly one input is not constant (Mul, MatMul, Gemm).
 */
export type AffineKind = "joint" | "first" | "one";

export interface AffineStep {
  inputs: readonly string[];
  outputs: readonly string[];
  affine?: AffineKind;
}

type State = "constant" | "affine" | "other";

/**
 * The frontier of the affine prefix of a slice (its steps in topological order, fed `fed`, output
 * `output`): the affine tensors read by a node that is not affine, and `output` when it is affine.
 * Null when nothing but `fed` itself is affine (no work to save).
 */
export function affineFrontier(
  steps: readonly AffineStep[],
  fed: string,
  output: string,
  isConstant: (name: string) => boolean,
): string[] | null {
  const state = new Map<string, State>([[fed, "affine"]]);
  const stateOf = (name: string): State =>
    name === fed ? "affine" : (state.get(name) ?? (isConstant(name) ? "constant" : "other"));
  const frontier = new Set<string>();
  for (const s of steps) {
    const ins = s.inputs.filter((n) => n !== "");
    const states = ins.map(stateOf);
    let out: State;
    if (states.every((x) => x === "constant")) out = "constant";
    else if (s.affine && isAffine(s.affine, s.inputs, stateOf)) out = "affine";
    else out = "other";
    if (out === "other") ins.forEach((n, k) => states[k] === "affine" && frontier.add(n));
    for (const o of s.outputs) if (o !== "") state.set(o, out);
  }
  if (stateOf(output) === "affine") frontier.add(output);
  if (frontier.size === 0 || (frontier.size === 1 && frontier.has(fed))) return null;
  return [...frontier];
}

function isAffine(kind: AffineKind, inputs: readonly string[], stateOf: (n: string) => State): boolean {
  const states = inputs.map((n) => (n === "" ? "constant" : stateOf(n)));
  if (states.includes("other")) return false;
  if (kind === "joint") return true;
  if (kind === "first") return states.every((x, i) => i === 0 || x === "constant");
  return states.filter((x) => x === "affine").length === 1;
}
