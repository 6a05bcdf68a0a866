/**
 * Parity with the authors' implementation on a second fixture, toyworld-b: another model (widths
 * 8/16/24/48, max-pool stem, seed 7), class car, τ 6, k 50, Gauss–Legendre 50, preset reference,
 * layers fc … layer1.1 (the run recorded in tests/fixtures/toyworld-b/reference/car-tau6.json.gz).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { buildCircuit } from "~/server/neurflow/circuit";
import { circuitSchema, type Circuit } from "~/server/neurflow/circuitFormat";
import { compareWithReference, formatParity, PARITY_THRESHOLDS, type ParityFigures, type ReferenceRun } from "~/server/neurflow/parity";

const dir = "tests/fixtures/toyworld-b";
const layers = ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0", "layer2.1", "layer2.0", "layer1.1"];

describe("parity with the reference implementation (toyworld-b, car, τ 6)", () => {
  let circuit: Circuit;
  let figures: ParityFigures;
  const reference = JSON.parse(gunzipSync(readFileSync(`${dir}/reference/car-tau6.json.gz`)).toString()) as ReferenceRun;
  /** The reference's completeness error per target: upper layer → target neuron → error. */
  const referenceCompleteness = JSON.parse(readFileSync(`${dir}/reference/car-tau6.completeness.json`, "utf8")) as Record<
    string,
    Record<string, number>
  >;

  beforeAll(async () => {
    circuit = await buildCircuit({
      manifestPath: `${dir}/manifest.json`,
      images: `${dir}/images/car`,
      className: "car",
      layers,
      params: { preset: "reference", tau: 6, k: 50, igSteps: 50 },
    });
    figures = compareWithReference(circuit, reference);
    console.log(formatParity(figures));
  }, 1_800_000);

  it("produces a valid neurflow-circuit/1 document", () => {
    expect(circuitSchema.safeParse(circuit).success).toBe(true);
    expect(circuit.patches).toHaveLength(944);
    expect(circuit.images).toEqual(reference.images);
    expect(circuit.layers.map((l) => l.targets.length)).toEqual(reference.layers.map((l) => Object.keys(l.targets).length));
  });

  it("uses the same patches, compared by (image, x, y, size)", () => {
    expect(circuit.patches).toEqual(reference.patches);
  });

  it("finds the same targets, top patches and core neurons", () => {
    expect(figures.missingLayers).toEqual([]);
    expect(figures.targetJaccard).toBeGreaterThanOrEqual(PARITY_THRESHOLDS.targetJaccard);
    expect(figures.topOverlap).toBeGreaterThanOrEqual(PARITY_THRESHOLDS.topOverlap);
    expect(figures.coreJaccard).toBeGreaterThanOrEqual(PARITY_THRESHOLDS.coreJaccard);
    expect(figures.coreJaccardMin).toBeGreaterThanOrEqual(PARITY_THRESHOLDS.coreJaccardMin);
    expect(figures.importanceSpearman).toBeGreaterThanOrEqual(PARITY_THRESHOLDS.importanceSpearman);
  });

  it("gives the same edge weights, semantic groups and neuron groups", () => {
    expect(figures.edgeWeightMaxDiff).toBeLessThanOrEqual(PARITY_THRESHOLDS.edgeWeightMaxDiff);
    expect(figures.semanticAri).toBeGreaterThanOrEqual(PARITY_THRESHOLDS.semanticAri);
    expect(figures.neuronGroupAri).toBeGreaterThanOrEqual(PARITY_THRESHOLDS.neuronGroupAri);
  });

  it("has integrated gradients with the reference's completeness on every target", () => {
    // With 50 nodes some targets of this model miss completeness by up to ~8 % in the authors' code
    // as well (ReLU kinks); the engine must show the same error, target by target.
    for (const l of circuit.layers) {
      for (const t of l.targets) {
        const ref = referenceCompleteness[l.upper]?.[String(t.neuron)];
        expect(ref, `${l.upper} neuron ${t.neuron}`).toBeTypeOf("number");
        expect(Math.abs((t.igCompleteness ?? Infinity) - ref!), `${l.upper} neuron ${t.neuron}`).toBeLessThanOrEqual(1e-3);
      }
    }
  });
});
