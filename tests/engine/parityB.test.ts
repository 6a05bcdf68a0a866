/**
 * Parity with the authors' implementation on a second fixture, toyworld-b: another model (widths
 * 8/16/24/48, max-pool stem, seed 7), class car, τ 6, k 50, Gauss–Legendre 50, preset reference,
 * layers fc … layer1.1 (the run recorded in tests/fixtures/toyworld-b/reference/car-tau6.json.gz).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parityTests } from "./parityCase";

const dir = "tests/fixtures/toyworld-b";

describe("parity with the reference implementation (toyworld-b, car, τ 6)", () => {
  const run = parityTests({ dir, className: "car", tau: 6, reference: "reference/car-tau6.json.gz" });
  /** The reference's completeness error per target: upper layer → target neuron → error. */
  const referenceCompleteness = JSON.parse(
    readFileSync(`${dir}/reference/car-tau6.completeness.json`, "utf8"),
  ) as Record<string, Record<string, number>>;

  it("has integrated gradients with the reference's completeness on every target", () => {
    // With 50 nodes some targets of this model miss completeness by up to ~8 % in the authors' code
    // as well (ReLU kinks); the engine must show the same error, target by target.
    for (const l of run.circuit().layers) {
      for (const t of l.targets) {
        const ref = referenceCompleteness[l.upper]?.[String(t.neuron)];
        expect(ref, `${l.upper} neuron ${t.neuron}`).toBeTypeOf("number");
        expect(Math.abs((t.igCompleteness ?? Infinity) - ref!), `${l.upper} neuron ${t.neuron}`).toBeLessThanOrEqual(
          1e-3,
        );
      }
    }
  });
});
