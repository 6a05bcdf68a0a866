/**
 * The parity checks shared by every fixture made with the reference implementation: run the engine
 * (by default with the reference preset and the toy fixtures' layers) and compare with the recorded
 * run (patches by (image, x, y, size)).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { beforeAll, expect, it } from "vitest";
import { buildCircuit } from "~/server/neurflow/circuit";
import { circuitSchema, type Circuit } from "~/server/neurflow/circuitFormat";
import {
  compareWithReference,
  formatParity,
  PARITY_THRESHOLDS,
  type ParityFigures,
  type ReferenceRun,
} from "~/server/neurflow/parity";

export const REFERENCE_LAYERS = [
  "fc",
  "layer4.1",
  "layer4.0",
  "layer3.1",
  "layer3.0",
  "layer2.1",
  "layer2.0",
  "layer1.1",
];

export interface ParityCase {
  /** Fixture folder with manifest.json, images/<class>/ and reference/. */
  dir: string;
  className: string;
  tau: number;
  /** Reference run file inside `dir`. */
  reference: string;
  /** Circuit layers, top-down; default REFERENCE_LAYERS. */
  layers?: string[];
  /** Engine preset; default "reference". */
  preset?: "reference" | "default";
  /** Run on onnxruntime where it applies (the engine's default) or, false, on the TensorFlow.js import of the model. */
  onnxRuntime?: boolean;
  /** Input elements per integrated-gradients pass; default the engine's. */
  igRowElements?: number;
  /** Thresholds that differ from PARITY_THRESHOLDS for this case (each one documented where it is set). */
  thresholds?: Partial<Record<keyof typeof PARITY_THRESHOLDS, number>>;
}

/** Declares the parity tests (inside a describe block); returns accessors for extra checks. */
export function parityTests(c: ParityCase): { circuit: () => Circuit; reference: ReferenceRun } {
  let circuit: Circuit;
  let figures: ParityFigures;
  const T = { ...PARITY_THRESHOLDS, ...c.thresholds };
  const reference = JSON.parse(gunzipSync(readFileSync(`${c.dir}/${c.reference}`)).toString()) as ReferenceRun;

  beforeAll(async () => {
    circuit = await buildCircuit(
      {
        manifestPath: `${c.dir}/manifest.json`,
        images: `${c.dir}/images/${c.className}`,
        className: c.className,
        layers: c.layers ?? REFERENCE_LAYERS,
        // the reference preset pins N = 50 (the recorded runs' value); the default preset keeps its own quadrature
        params:
          (c.preset ?? "reference") === "reference"
            ? { preset: "reference", tau: c.tau, k: 50, igSteps: 50 }
            : { preset: "default", tau: c.tau, k: 50 },
      },
      { onnxRuntime: c.onnxRuntime, igRowElements: c.igRowElements },
    );
    figures = compareWithReference(circuit, reference);
    console.log(formatParity(figures));
  }, 1_800_000);

  it("produces a valid neurflow-circuit/1 document", () => {
    expect(circuitSchema.safeParse(circuit).success).toBe(true);
    expect(circuit.images).toEqual(reference.images);
    expect(circuit.layers.map((l) => l.targets.length)).toEqual(
      reference.layers.map((l) => Object.keys(l.targets).length),
    );
  });

  it("uses the same patches, compared by (image, x, y, size)", () => {
    expect(circuit.patches).toEqual(reference.patches);
  });

  it("finds the same targets, top patches and core neurons", () => {
    expect(figures.missingLayers).toEqual([]);
    expect(figures.targetJaccard).toBeGreaterThanOrEqual(T.targetJaccard);
    expect(figures.topOverlap).toBeGreaterThanOrEqual(T.topOverlap);
    expect(figures.coreJaccard).toBeGreaterThanOrEqual(T.coreJaccard);
    expect(figures.coreJaccardMin).toBeGreaterThanOrEqual(T.coreJaccardMin);
    expect(figures.importanceSpearman).toBeGreaterThanOrEqual(T.importanceSpearman);
  });

  it("gives the same edge weights, semantic groups and neuron groups", () => {
    expect(figures.edgeWeightMaxDiff).toBeLessThanOrEqual(T.edgeWeightMaxDiff);
    expect(figures.semanticAri).toBeGreaterThanOrEqual(T.semanticAri);
    expect(figures.neuronGroupAri).toBeGreaterThanOrEqual(T.neuronGroupAri);
  });

  return { circuit: () => circuit, reference };
}
