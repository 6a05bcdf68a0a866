/**
 * The engine's faithfulness curve on the toy-world fixture circuit (bee, τ 3, four images): the
 * full network's logit is retained whole, the emptied layers give 0, each point equals the masked
 * network computed independently, the random baseline is reproducible and summarised from its own
 * draws, and the circuit's own neurons keep more of the logit than random neurons of the same number.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow/backend";
import type { Circuit } from "~/server/neurflow/circuitFormat";
import { loadEvaluationData, type EvaluationData } from "~/server/neurflow/evaluations/evaluationData";
import { faithfulnessCurve, quantileSorted } from "~/server/neurflow/evaluations/faithfulnessCurve";
import { faithfulnessLayers, lowestCoreNeurons } from "~/server/neurflow/evaluations/faithfulnessLayers";
import { accuracyOf, layerWidth, maskedLogits } from "~/server/neurflow/masking";
import { FIXTURE, FIXTURE_IMAGES } from "../helpers/fixtures";
import { toyCircuit } from "../helpers/viewerSeed";

let circuit: Circuit;
let data: EvaluationData;
let layers: string[];
/** Every neuron of the circuit's groups, per masked layer. */
let circuitNeurons: number[][];
let widths: number[];

beforeAll(async () => {
  await initBackend();
  circuit = await toyCircuit("bee");
  data = await loadEvaluationData(circuit, join(FIXTURE, "manifest.json"), join(FIXTURE_IMAGES, "bee"));
  layers = faithfulnessLayers(circuit);
  circuitNeurons = circuit.layers
    .slice(1)
    .map((l) => [...new Set(l.neuronGroups.flatMap((g) => g.members.map((m) => m.neuron)))].sort((a, b) => a - b));
  circuitNeurons.push(lowestCoreNeurons(circuit, new Set(circuitNeurons.at(-1))));
  widths = layers.map((l) => layerWidth(data.model, data.images, l));
});
afterAll(() => data?.dispose());

const meanLogit = async (masks: Parameters<typeof maskedLogits>[2]) => {
  const p = await maskedLogits(data.model, data.images, masks);
  let s = 0;
  for (let r = 0; r < p.logits.length / p.classes; r++) s += p.logits[r * p.classes + circuit.class.index]!;
  return { logit: s / (p.logits.length / p.classes), accuracy: accuracyOf(p, circuit.class.index) };
};

describe("faithfulness curve (engine)", () => {
  it("masks every circuit layer below the logit; the lowest keeps the core neurons of the targets kept above it", () => {
    expect(layers).toEqual(["layer4.1", "layer4.0", "layer3.1"]);
    const last = circuit.layers.at(-1)!;
    const t0 = last.targets[0]!;
    expect(lowestCoreNeurons(circuit, new Set([t0.neuron]))).toEqual([...t0.coreNeurons].sort((a, b) => a - b));
    expect(lowestCoreNeurons(circuit, new Set())).toEqual([]);
    expect(circuitNeurons[2]).toEqual([...new Set(last.targets.flatMap((t) => t.coreNeurons))].sort((a, b) => a - b));
  });

  it("keeping every channel is the unmasked network (1), keeping none is 0; points equal the masked network", async () => {
    const r = await faithfulnessCurve(circuit, data.model, data.images, {
      subsets: [
        widths.map((w) => Array.from({ length: w }, (_, i) => i)),
        circuitNeurons,
        [circuitNeurons[0]!, [], []],
        layers.map(() => []),
      ],
      draws: 0,
    });
    expect(r.widths).toEqual(widths);
    const unmasked = await meanLogit([]);
    const emptied = await meanLogit(layers.map((layer) => ({ layer, channels: [], mode: "retain" as const })));
    expect(r.full).toEqual(unmasked);
    expect(r.empty).toEqual(emptied);
    expect(r.full.logit - r.empty.logit).toBeGreaterThan(1);
    // the full circuit: every channel kept is exactly the unmasked network
    expect(r.points[0]!.logitRetained).toBe(1);
    expect(r.points[0]!.accuracy).toBe(unmasked.accuracy);
    expect(r.points[3]!.logitRetained).toBe(0);
    for (const [i, keep] of [circuitNeurons, [circuitNeurons[0]!, [], []]].entries()) {
      const expected = await meanLogit(
        layers.map((layer, j) => ({ layer, channels: keep[j]!, mode: "retain" as const })),
      );
      const p = r.points[i + 1]!;
      expect(p.neurons).toEqual(keep.map((k) => k.length));
      expect(p.logit).toBeCloseTo(expected.logit, 10);
      expect(p.accuracy).toBe(expected.accuracy);
      expect(p.logitRetained).toBeCloseTo((expected.logit - emptied.logit) / (unmasked.logit - emptied.logit), 10);
      expect(p.random).toBeNull();
    }
  });

  it("summarises random subsets of the same size from their own draws, reproducibly from the seed", async () => {
    const opts = { subsets: [circuitNeurons, circuitNeurons.map((k) => k.slice(0, 1))], draws: 12, seed: 3 };
    const a = await faithfulnessCurve(circuit, data.model, data.images, opts);
    const b = await faithfulnessCurve(circuit, data.model, data.images, opts);
    const c = await faithfulnessCurve(circuit, data.model, data.images, { ...opts, seed: 4 });
    for (const [i, p] of a.points.entries()) {
      const rnd = p.random!;
      expect(rnd.values).toHaveLength(12);
      expect(rnd.values).toEqual(b.points[i]!.random!.values);
      expect(rnd.values).not.toEqual(c.points[i]!.random!.values);
      const sorted = [...rnd.values].sort((x, y) => x - y);
      expect(rnd.mean).toBeCloseTo(rnd.values.reduce((s, v) => s + v, 0) / 12, 12);
      expect(rnd.low).toBeCloseTo(quantileSorted(sorted, 0.05), 12);
      expect(rnd.high).toBeCloseTo(quantileSorted(sorted, 0.95), 12);
      expect(rnd.low).toBeLessThanOrEqual(rnd.mean);
      expect(rnd.mean).toBeLessThanOrEqual(rnd.high);
      expect(rnd.atLeast).toBe(rnd.values.filter((v) => v >= p.logitRetained!).length);
    }
    // the circuit's own neurons keep more of the class logit than every random set of their size
    expect(a.points[0]!.random!.atLeast).toBe(0);
    expect(a.points[0]!.logitRetained!).toBeGreaterThan(a.points[0]!.random!.high);
  });

  it("accuracy alone saturates on the class's images: emptying the masked layers still predicts the class", async () => {
    // why the curve measures the logit retained (docs/evaluations-ui.md); the fixture shows it as the demo does
    const r = await faithfulnessCurve(circuit, data.model, data.images, { subsets: [], draws: 0 });
    expect(r.empty.accuracy).toBe(r.full.accuracy);
  });

  it("refuses subsets that do not match the masked layers or repeat a channel", async () => {
    await expect(
      faithfulnessCurve(circuit, data.model, data.images, { subsets: [[circuitNeurons[0]!]], draws: 0 }),
    ).rejects.toThrow(/has 1 layers; the curve masks 3/);
    await expect(
      faithfulnessCurve(circuit, data.model, data.images, { subsets: [[[1, 1], [], []]], draws: 0 }),
    ).rejects.toThrow(/repeats a channel of layer4.1/);
  });

  it("quantiles interpolate between order statistics", () => {
    expect(quantileSorted([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantileSorted([1, 2, 3, 4, 5], 0.05)).toBeCloseTo(1.2, 12);
    expect(quantileSorted([0, 10], 0.95)).toBeCloseTo(9.5, 12);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });
});
