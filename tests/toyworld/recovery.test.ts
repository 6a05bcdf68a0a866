import { beforeAll, describe, expect, it } from "vitest";
import type { Circuit } from "~/server/neurflow/light";
import {
  conceptPatches,
  cropShare,
  groupCompositions,
  pixelsInCrop,
  unionMask,
  type ImageParts,
} from "~/server/toyworld/conceptParts";
import { auroc, fidelityTaus, runRecovery, specificGroup, type RecoveryReport } from "~/server/toyworld/recovery";
import type { GroupComposition } from "~/server/toyworld/conceptParts";

const S = 16;

function square(x0: number, y0: number, side: number): Uint8Array {
  const m = new Uint8Array(S * S);
  for (let y = y0; y < y0 + side; y++) for (let x = x0; x < x0 + side; x++) m[y * S + x] = 1;
  return m;
}

/** One image: flowers fill its top-left 4×4, the bee its bottom-right 8×8. */
const image: ImageParts = {
  size: S,
  parts: [
    { name: "flowers", mask: square(0, 0, 4) },
    { name: "body", mask: square(8, 8, 8) },
  ],
};

/** A circuit with the parts conceptParts reads: patches, targets' top patches and semantic groups, neuron groups. */
function circuit(): Circuit {
  const patches: [number, number, number, number][] = [
    [0, 0, 0, 16], // 0: whole image: flowers 16/256 (6%), body 64/256 (25%)
    [0, 0, 0, 4], // 1: all flowers
    [0, 0, 0, 8], // 2: flowers 16/64 (25%)
    [0, 8, 8, 8], // 3: all body
    [0, 4, 4, 8], // 4: body 16/64 (25%)
  ];
  const target = (neuron: number, topPatches: number[], semanticGroups: number[]) => ({
    neuron,
    topPatches,
    topActivations: topPatches.map(() => 1),
    semanticGroups,
    importance: [],
    coreNeurons: [],
    edges: [],
  });
  return {
    images: ["a.png"],
    patches,
    layers: [
      {
        upper: "fc",
        lower: "l2",
        targets: [target(0, [0, 1], [0, 1])],
        neuronGroups: [{ id: 0, members: [{ neuron: 0, semanticGroup: 0 }] }],
        groupEdges: [],
      },
      {
        upper: "l2",
        lower: "l1",
        targets: [target(3, [1, 2, 3], [0, 0, 1]), target(5, [2, 4, 0], [0, 1, 1])],
        neuronGroups: [
          {
            id: 0,
            members: [
              { neuron: 3, semanticGroup: 0 },
              { neuron: 5, semanticGroup: 0 },
            ],
          },
          {
            id: 1,
            members: [
              { neuron: 3, semanticGroup: 1 },
              { neuron: 5, semanticGroup: 1 },
            ],
          },
        ],
        groupEdges: [],
      },
    ],
  } as unknown as Circuit;
}

describe("concept patches and the parts they show", () => {
  it("counts a part's pixels inside a crop, clipped to the image", () => {
    expect(pixelsInCrop(image.parts[0]!.mask, S, 0, 0, 16)).toBe(16);
    expect(pixelsInCrop(image.parts[0]!.mask, S, 2, 2, 8)).toBe(4);
    expect(pixelsInCrop(image.parts[1]!.mask, S, 12, 12, 8)).toBe(16);
    expect(cropShare(image.parts[1]!.mask, S, 8, 8, 8)).toBe(1);
    expect(unionMask(image, ["flowers", "body"]).reduce((a, b) => a + b, 0)).toBe(80);
    expect(unionMask(image, ["wings"]).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it("takes a group's concept patches per member semantic group, each patch once", () => {
    const c = circuit();
    expect(conceptPatches(c, 1, 0)).toEqual([1, 2]);
    expect(conceptPatches(c, 1, 1)).toEqual([0, 3, 4]);
    expect(() => conceptPatches(c, 1, 7)).toThrow(/no neuron group 7/);
  });

  it("judges a patch by the share of the patch a part covers, not by the share of the part it holds", () => {
    const [g0, g1] = groupCompositions(circuit(), [image], {
      cue: ["flowers"],
      object: ["body", "stripes", "wings"],
      decoration: ["pebbles"],
    });
    // group 0: a flower crop and a crop a quarter flowers — all cue, no bee
    expect(g0).toMatchObject({
      layer: "l2",
      groupId: 0,
      neurons: [3, 5],
      patches: 2,
      cue: 1,
      object: 0,
      decoration: 0,
    });
    // group 1: the whole image (6% flowers: not a flower patch, though it holds all of them; 25% bee) and two bee crops
    expect(g1).toMatchObject({ groupId: 1, patches: 3, cue: 0, object: 1 });
    expect(g1!.bySize).toEqual({ "16": 1, "8": 2 });
    // at a 5% threshold the whole image shows the flowers too
    expect(g1!.sensitivity.find((s) => s.share === 0.05)!.cue).toBeCloseTo(1 / 3);
  });

  it("skips the class logit's own groups unless asked", () => {
    const c = circuit();
    const sets = { cue: ["flowers" as const], object: ["body" as const], decoration: [] };
    expect(groupCompositions(c, [image], sets).every((g) => g.layerIndex === 1)).toBe(true);
    expect(groupCompositions(c, [image], sets, { fromLayer: 0 })[0]!.layer).toBe("fc");
    expect(() => groupCompositions(c, [], sets)).toThrow(/0 part masks for 1 circuit images/);
  });
});

describe("choosing the cue group", () => {
  const group = (groupId: number, o: Partial<GroupComposition>): GroupComposition => ({
    layerIndex: 1,
    layer: "l2",
    groupId,
    neurons: [1, 2],
    patches: 20,
    bySize: {},
    cue: 0,
    object: 0,
    decoration: 0,
    sensitivity: [],
    parentWeight: 0,
    ...o,
  });

  it("takes each group's strongest edge to the layer above", () => {
    const c = circuit();
    c.layers[0]!.groupEdges = [
      { child: 0, parent: 0, weight: 0.2 },
      { child: 1, parent: 0, weight: 0.7 },
      { child: 1, parent: 1, weight: -0.9 },
    ];
    const [g0, g1] = groupCompositions(c, [image], { cue: ["flowers"], object: ["body"], decoration: [] });
    expect(g0!.parentWeight).toBe(0.2);
    expect(g1!.parentWeight).toBe(0.7);
  });

  it("picks, among the judged cue-dominated groups of the highest layer, the one with the strongest edge up", () => {
    const strong = group(1, { cue: 0.75, parentWeight: 0.5, neurons: [3] });
    const groups = [
      group(0, { cue: 0.95, parentWeight: 0.2, neurons: [1, 2, 3, 4] }),
      strong,
      group(2, { cue: 0.6, parentWeight: 0.9 }), // not dominated
      group(3, { cue: 1, parentWeight: 2, patches: 9 }), // too few patches to judge
    ];
    expect(specificGroup(groups, "cue")).toBe(strong);
    expect(specificGroup(groups, "cue", strong)!.groupId).toBe(0);
    // a lower layer's group loses whatever its edge (edge weights differ in scale between layers)
    expect(specificGroup([...groups, group(4, { layerIndex: 2, cue: 1, parentWeight: 26 })], "cue")).toBe(strong);
    expect(
      specificGroup(
        [group(4, { layerIndex: 2, cue: 1, parentWeight: 26 }), group(2, { cue: 0.6, parentWeight: 0.9 })],
        "cue",
      )!.groupId,
    ).toBe(4);
    // ties on the edge: more neurons
    expect(
      specificGroup(
        [
          group(0, { cue: 0.8, parentWeight: 0.5, neurons: [1] }),
          group(1, { cue: 0.8, parentWeight: 0.5, neurons: [1, 2] }),
        ],
        "cue",
      )!.groupId,
    ).toBe(1);
    // none dominated: the largest share
    expect(specificGroup([group(0, { cue: 0.5, parentWeight: 3 }), group(1, { cue: 0.6 })], "cue")!.groupId).toBe(1);
  });

  it("sweeps fidelity over a quarter, half, three quarters and all of τ", () => {
    expect(fidelityTaus(16)).toEqual([4, 8, 12, 16]);
    expect(fidelityTaus(8)).toEqual([2, 4, 6, 8]);
    expect(fidelityTaus(2)).toEqual([1, 2]);
    expect(fidelityTaus(1)).toEqual([1]);
  });
});

describe("AUROC", () => {
  it("is the probability that a positive outscores a negative, ties half", () => {
    expect(auroc([3, 4], [1, 2])).toBe(1);
    expect(auroc([1, 2], [3, 4])).toBe(0);
    expect(auroc([1, 3], [2, 2])).toBe(0.5);
    expect(auroc([2], [2])).toBe(0.5);
    expect(Number.isNaN(auroc([], [1]))).toBe(true);
  });
});

/**
 * The recovery checks end to end on the shipped cue model and its control, at a small setting
 * (16 scenes per set, τ 8, no second class for fidelity). Every claim holds here but one: masking
 * the bee's core neurons down to layer4.0 at τ 8 leaves most bees recognised (21 of 128 channels;
 * at τ 16 it holds, while retaining fails there instead — docs/toyworld.md, "Recovery checks");
 * for it, the core neurons must still matter more than random ones.
 */
describe("recovery checks on models/toyworld5", () => {
  let report: RecoveryReport;
  const claim = (start: string) => {
    const c = report.claims.find((x) => x.name.startsWith(start));
    if (!c) throw new Error(`no claim "${start}…" in ${report.claims.map((x) => x.name).join(" | ")}`);
    return c;
  };

  beforeAll(async () => {
    report = await runRecovery({
      model: "models/toyworld5",
      control: "models/toyworld5-control",
      perClass: 16,
      seed: 2025,
      tau: 8,
      draws: 3,
      fidelityClass: null,
      otherCueGroups: false,
    });
  }, 300_000);

  it("finds a late group dominated by the flowers, another by the bee, and none on the control", () => {
    expect(report.circuit.images).toBeGreaterThanOrEqual(12);
    expect(claim("a late-layer group is dominated by the cue").passed).toBe(true);
    expect(report.cueGroup!.cue).toBeGreaterThanOrEqual(0.7);
    // the cue group is the one with the strongest edge up among the cue-dominated groups of the highest layer
    const dominated = report.groups.filter((g) => g.patches >= 10 && g.cue >= 0.7);
    const top = Math.min(...dominated.map((g) => g.layerIndex));
    const rivals = dominated.filter((g) => g.layerIndex === top);
    expect(report.cueGroup!.layerIndex).toBe(top);
    expect(Math.max(...rivals.map((g) => g.parentWeight))).toBe(report.cueGroup!.parentWeight);
    expect(claim("another group is dominated by the bee").passed).toBe(true);
    expect(report.objectGroup!.object).toBeGreaterThanOrEqual(0.7);
    expect(claim("on the control model no group").passed).toBe(true);
    expect(report.control!.groups.every((g) => g.patches < 10 || g.cue < 0.7)).toBe(true);
  });

  it("masking the cue group lowers the bee logit far more with the flowers than without, and than random neurons", () => {
    expect(claim("masking the cue group").passed).toBe(true);
    const m = report.masking!;
    expect(m.present.logitDrop).toBeGreaterThanOrEqual(2 * m.absent.logitDrop);
    expect(m.present.logitDrop).toBeGreaterThanOrEqual(2 * m.present.randomLogitDrop);
    // in probability the order is reversed: with the flowers P(bee) is saturated near 1
    expect(m.present.before).toBeGreaterThan(0.99);
    expect(m.absent.before).toBeLessThan(m.present.before);
  });

  it("metric M of the cue group separates cue-present from cue-absent images", () => {
    expect(claim("metric M of the cue group").passed).toBe(true);
    expect(report.metricM!.present).toBeGreaterThan(report.metricM!.absent);
  });

  it("labels every penultimate core neuron by the bee's parts or the flowers, never a decoration", () => {
    expect(claim("every core neuron of the penultimate layer").passed).toBe(true);
    expect(report.labels.neurons.length).toBe(8);
    for (const n of report.labels.neurons) expect(["body", "stripes", "wings", "flowers"]).toContain(n.label);
  });

  it("core neurons matter more than random ones under masking and retaining", () => {
    const [bee] = report.fidelity;
    expect(bee!.class).toBe("bee");
    expect(bee!.retainVacuous).toBe(false);
    expect(claim("bee: retaining only its core neurons").passed).toBe(true);
    expect(bee!.judged.maskCore).toBeLessThan(bee!.judged.maskRandom);
    expect(bee!.judged.retainCore).toBeGreaterThan(bee!.judged.retainRandom);
    // the τ' ≤ τ sweep: core sets grow with τ', and the last one is the judged one
    const counts = bee!.overTau.map((t) => t.coreNeurons);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(bee!.overTau.at(-1)).toMatchObject({
      tau: 8,
      coreNeurons: bee!.judged.coreNeurons,
      retainRandom: bee!.judged.retainRandom,
    });
  });
});
