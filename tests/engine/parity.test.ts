/**
 * Parity with the authors' implementation on the toyworld-a fixture: class bee, τ 8, k 50,
 * Gauss–Legendre 50, preset reference, layers fc … layer1.1 (the run recorded in
 * tests/fixtures/toyworld-a/reference/bee-tau8.json.gz).
 */
import { describe, expect, it } from "vitest";
import { parityTests } from "./parityCase";

describe("parity with the reference implementation (toyworld-a, bee, τ 8)", () => {
  const run = parityTests({
    dir: "tests/fixtures/toyworld-a",
    className: "bee",
    tau: 8,
    reference: "reference/bee-tau8.json.gz",
  });

  it("covers 16 images × 59 windows", () => {
    expect(run.circuit().patches).toHaveLength(944);
  });

  it("has integrated gradients that satisfy completeness", () => {
    // N = 50 nodes: all but a few targets within 1 % (ReLU kinks make some integrands rough)
    const errors = run.circuit().layers.flatMap((l) => l.targets.map((t) => t.igCompleteness ?? Infinity));
    expect(errors.filter((e) => e <= 0.01).length / errors.length).toBeGreaterThanOrEqual(0.97);
    expect(Math.max(...errors)).toBeLessThan(0.05);
  });
});
