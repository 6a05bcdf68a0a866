/** Integrated gradients: quadrature rules, completeness, and the fallback to finer rules. */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow/backend";
import { loadModel, type ClassifierModel } from "~/server/neurflow/model/loadModel";
import { embeddedRule, gaussKronrod15, gaussLegendre, quadratureRule } from "~/server/neurflow/quadrature";
import {
  attributeTarget,
  completenessError,
  coreSetCertain,
  edgeWeightsSettled,
} from "~/server/neurflow/targetAttribution";
import { integratedGradients } from "~/server/neurflow/integratedGradients";
import { activationColumn, computeActivations, computeLayerMaps } from "~/server/neurflow/activations";
import { patchGrid } from "~/server/neurflow/patches";
import { loadClassImages } from "~/server/neurflow/images";
import { topIndices } from "~/server/neurflow/coreNeurons";
import { tf } from "~/server/neurflow/tf";

describe("quadrature", () => {
  it("integrates polynomials of degree 2n−1 exactly with n Gauss–Legendre nodes", () => {
    for (const n of [1, 2, 5, 16, 50]) {
      const { alphas, weights } = quadratureRule("gausslegendre", n);
      for (const deg of [0, 1, 2 * n - 1]) {
        let s = 0;
        alphas.forEach((a, i) => (s += weights[i]! * a ** deg));
        expect(s).toBeCloseTo(1 / (deg + 1), 12);
      }
    }
    // known 3-node rule on [−1, 1]: nodes ±√(3/5), 0; weights 5/9, 8/9
    const g = gaussLegendre(3);
    expect(g.nodes[2]).toBeCloseTo(Math.sqrt(3 / 5), 14);
    expect(g.weights[1]).toBeCloseTo(8 / 9, 14);
  });

  it("has a 15-node Gauss–Kronrod rule exact to degree 23 whose embedded 7-node Gauss rule is exact to degree 13", () => {
    const { nodes, weights, embedded } = gaussKronrod15();
    const moment = (w: Float64Array, k: number) => w.reduce((a, wi, i) => a + wi * nodes[i]! ** k, 0);
    for (let k = 0; k <= 23; k++) expect(moment(weights, k)).toBeCloseTo(k % 2 ? 0 : 2 / (k + 1), 13);
    for (let k = 0; k <= 13; k++) expect(moment(embedded, k)).toBeCloseTo(k % 2 ? 0 : 2 / (k + 1), 13);
    // the Gauss rule is not exact beyond: its difference from the Kronrod rule is an error estimate
    expect(Math.abs(moment(embedded, 14) - 2 / 15)).toBeGreaterThan(1e-5);
    // the embedded rule's nodes are the 7-node Gauss–Legendre nodes
    const g7 = gaussLegendre(7);
    const used = nodes.filter((_, i) => embedded[i] !== 0);
    used.forEach((x, i) => expect(x).toBeCloseTo(g7.nodes[i]!, 14));
    // on [0, 1]: weights sum to 1, and the embedded rule on its own nodes is the 7-node Gauss–Legendre rule
    const r = quadratureRule("gausskronrod", 15);
    expect(r.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    const e = embeddedRule(r)!;
    const gl7 = quadratureRule("gausslegendre", 7);
    e.alphas.forEach((a, i) => expect(a).toBeCloseTo(gl7.alphas[i]!, 14));
    e.weights.forEach((w, i) => expect(w).toBeCloseTo(gl7.weights[i]!, 14));
    expect(() => quadratureRule("gausskronrod", 16)).toThrow(/15 nodes/);
  });

  it("has Riemann weights that sum to 1 (right endpoints)", () => {
    const r = quadratureRule("riemann", 4);
    expect(Array.from(r.alphas)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(r.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 15);
  });

  it("decides whether a core set is certain under the estimated error", () => {
    // 2 patches, 4 channels; importance (absMean) [4, 3, 1, 0.5]
    const ig = Float32Array.from([4, 3, 1, 0.5, 4, 3, 1, 0.5]);
    const near = Float32Array.from([4.01, 3, 1.01, 0.5, 4, 3.01, 1, 0.5]);
    expect(coreSetCertain(ig, near, 2, 4, 2, "absMean")).toBe(true);
    // an error estimate that could swap channels 1 and 2
    const far = Float32Array.from([4, 2, 2, 0.5, 4, 2, 2, 0.5]);
    expect(coreSetCertain(ig, far, 2, 4, 2, "absMean")).toBe(false);
    // an exact tie at the boundary is never certain
    const tie = Float32Array.from([4, 1, 1, 0.5, 4, 1, 1, 0.5]);
    expect(coreSetCertain(tie, tie, 2, 4, 2, "absMean")).toBe(false);
  });

  it("leaves edge weights to the first rule only when the estimate gives nearly the same", () => {
    // 4 patches in two semantic groups, 3 channels; τ 2 → core channels 0 and 1
    const ig = Float32Array.from([4, 2, 0.1, 4, 2, 0.1, 3, 3, 0.1, 3, 3, 0.1]);
    const groups = [0, 0, 1, 1];
    const d = { tau: 2, importance: "absMean" as const, edgeNormalization: "sum" as const };
    const tiny = ig.map((v, i) => (i === 0 ? v + 1e-4 : v));
    expect(edgeWeightsSettled(ig, tiny, 4, 3, groups, d)).toBe(true);
    // group 0's weights move by ~0.02 with the estimate: more than the tolerance
    const moved = ig.map((v, i) => (i === 0 || i === 3 ? v + 0.3 : v));
    expect(edgeWeightsSettled(ig, moved, 4, 3, groups, d)).toBe(false);
  });

  it("measures completeness relative to the change of the target", () => {
    expect(completenessError([1.0], [2.0], 1.0)).toBe(0);
    expect(completenessError([0.9], [2.0], 1.0)).toBeCloseTo(0.1, 12);
    // a tiny change is judged against 5 % of the activation instead
    expect(completenessError([0.0], [10.0], 10.0)).toBeCloseTo(0, 12);
    expect(completenessError([0.05], [10.0], 10.0)).toBeCloseTo(0.1, 12);
  });
});

describe("attribution of one target", () => {
  let model: ClassifierModel;
  let images: tf.Tensor4D;
  const patches = patchGrid(2, 64, [1, 0.5, 0.25], 0.5);
  let task: Parameters<typeof attributeTarget>[3];
  beforeAll(async () => {
    await initBackend();
    model = await loadModel("tests/fixtures/toyworld-a/manifest.json");
    const imgs = await loadClassImages(
      ["tests/fixtures/toyworld-a/images/bee/000.png", "tests/fixtures/toyworld-a/images/bee/001.png"],
      64,
    );
    images = model.preprocess(tf.tensor4d(imgs.pixels, [2, 64, 64, 3]));
    const [upper] = await computeActivations(model.graph, images, patches, [model.layerTensor("layer3.1")], 32);
    const col = activationColumn(upper!, 7);
    const top = topIndices(col, 10);
    task = {
      lowerTensor: model.layerTensor("layer3.0"),
      upperTensor: model.layerTensor("layer3.1"),
      target: 7,
      topPatches: top,
      topActivations: top.map((p) => col[p]!),
    };
  });

  it("satisfies completeness with 50 nodes", async () => {
    const r = await attributeTarget(model.graph, images, patches, task, {
      rules: [quadratureRule("gausslegendre", 50)],
      tolerance: 0.01,
    });
    expect(r.completeness).toBeLessThan(0.01);
    expect(r.nodes).toBe(50);
    expect(r.perPatch).toHaveLength(10 * 64);
  });

  it("retries with the finer rule only when completeness misses the tolerance", async () => {
    const coarse = quadratureRule("gausslegendre", 1);
    const fine = quadratureRule("gausslegendre", 50);
    const strict = await attributeTarget(model.graph, images, patches, task, {
      rules: [coarse, fine],
      tolerance: 1e-9,
    });
    expect(strict.nodes).toBe(50);
    const lax = await attributeTarget(model.graph, images, patches, task, { rules: [coarse, fine], tolerance: 1e9 });
    expect(lax.nodes).toBe(1);
    expect(lax.completeness).toBeGreaterThan(strict.completeness);
  });

  it("refines by the core set: the finer rule for all top patches only where the core set is uncertain", async () => {
    // within the completeness tolerance the first rule stands, without an estimate
    const fine50 = quadratureRule("gausslegendre", 50);
    const within = await attributeTarget(model.graph, images, patches, task, {
      rules: [quadratureRule("gausslegendre", 16), fine50],
      tolerance: 1,
      decision: {
        tau: 1,
        importance: "absMean",
        edgeNormalization: "sequential",
        estimate: quadratureRule("gausslegendre", 8),
      },
    });
    expect(within.nodes).toBe(16);
    const coarse = quadratureRule("gausslegendre", 16);
    const fine = quadratureRule("gausslegendre", 50);
    const onlyCoarse = await attributeTarget(model.graph, images, patches, task, { rules: [coarse], tolerance: 1 });
    const onlyFine = await attributeTarget(model.graph, images, patches, task, { rules: [fine], tolerance: 1 });
    const xs = computeLayerMaps(
      model.graph,
      images,
      patches,
      task.topPatches,
      task.lowerTensor,
      task.topPatches.length,
    );
    const slice = { graph: model.graph, lowerTensor: task.lowerTensor, upperTensor: task.upperTensor };
    // the decision's estimate: a coarser rule on other nodes
    const estimate = quadratureRule("gausslegendre", 8);
    const ig = await integratedGradients(slice, task.target, xs, coarse);
    const rough = await integratedGradients(slice, task.target, xs, estimate);
    xs.dispose();
    const P = task.topPatches.length;
    const taus = Array.from({ length: ig.channels - 1 }, (_, i) => i + 1);
    const certain = taus.filter((t) => coreSetCertain(ig.perPatch, rough.perPatch, P, ig.channels, t, "absMean"));
    const open = taus.filter((t) => !certain.includes(t));
    expect(certain.length).toBeGreaterThan(0);
    expect(open.length).toBeGreaterThan(0);
    // a completeness tolerance of 1e-9 sends every target to the estimate; the decision rule refines only open core sets
    const decided = await attributeTarget(model.graph, images, patches, task, {
      rules: [coarse, fine],
      tolerance: 1e-9,
      decision: { tau: certain[0]!, importance: "absMean", edgeNormalization: "sequential", estimate },
    });
    expect(decided.nodes).toBe(16);
    decided.perPatch.forEach((v, i) => expect(v).toBeCloseTo(onlyCoarse.perPatch[i]!, 5));
    const refined = await attributeTarget(model.graph, images, patches, task, {
      rules: [coarse, fine],
      tolerance: 1e-9,
      decision: { tau: open[0]!, importance: "absMean", edgeNormalization: "sequential", estimate },
    });
    expect(refined.nodes).toBe(50);
    refined.perPatch.forEach((v, i) => expect(v).toBeCloseTo(onlyFine.perPatch[i]!, 5));
  });

  it("with an embedded rule, checks every target's core set against the free estimate, complete or not", async () => {
    const kronrod = quadratureRule("gausskronrod", 15);
    const fine = quadratureRule("gausslegendre", 50);
    const xs = computeLayerMaps(
      model.graph,
      images,
      patches,
      task.topPatches,
      task.lowerTensor,
      task.topPatches.length,
    );
    const slice = { graph: model.graph, lowerTensor: task.lowerTensor, upperTensor: task.upperTensor };
    const ig = await integratedGradients(slice, task.target, xs, kronrod);
    const alone = await integratedGradients(slice, task.target, xs, embeddedRule(kronrod)!);
    xs.dispose();
    // the estimate from the same evaluations is IG with the embedded rule alone
    expect(ig.embedded).toHaveLength(alone.perPatch.length);
    ig.embedded!.forEach((v, i) => expect(v).toBeCloseTo(alone.perPatch[i]!, 5));
    const P = task.topPatches.length;
    const taus = Array.from({ length: ig.channels - 1 }, (_, i) => i + 1);
    const certain = taus.filter((t) => coreSetCertain(ig.perPatch, ig.embedded!, P, ig.channels, t, "absMean"));
    const open = taus.filter((t) => !certain.includes(t));
    expect(certain.length).toBeGreaterThan(0);
    expect(open.length).toBeGreaterThan(0);
    // every patch within the tolerance (1): the open core set is refined all the same
    const decide = (tau: number) =>
      attributeTarget(model.graph, images, patches, task, {
        rules: [kronrod, fine],
        tolerance: 1,
        decision: { tau, importance: "absMean", edgeNormalization: "sequential", estimate: embeddedRule(kronrod)! },
      });
    expect((await decide(open[0]!)).nodes).toBe(50);
    const kept = await decide(certain[0]!);
    expect(kept.nodes).toBe(15);
    kept.perPatch.forEach((v, i) => expect(v).toBeCloseTo(ig.perPatch[i]!, 5));
  });

  it("redoes only the patches that miss the tolerance, each as its own integral", async () => {
    const coarse = quadratureRule("gausslegendre", 4);
    const fine = quadratureRule("gausslegendre", 50);
    const onlyCoarse = await attributeTarget(model.graph, images, patches, task, { rules: [coarse], tolerance: 1 });
    const onlyFine = await attributeTarget(model.graph, images, patches, task, { rules: [fine], tolerance: 1 });
    // a tolerance between the patches' errors, so that some are redone and some are not
    const coarseErrors = task.topPatches.map((_, i) =>
      completenessError([onlyCoarse.totals[i]!], [task.topActivations[i]!], onlyCoarse.f0),
    );
    const tol = [...coarseErrors].sort((a, b) => a - b)[Math.floor(coarseErrors.length / 2)]!;
    const mixed = await attributeTarget(model.graph, images, patches, task, { rules: [coarse, fine], tolerance: tol });
    const C = mixed.channels;
    let redone = 0;
    task.topPatches.forEach((_, i) => {
      const err = completenessError([onlyCoarse.totals[i]!], [task.topActivations[i]!], onlyCoarse.f0);
      const expected = err > tol ? onlyFine : onlyCoarse;
      if (err > tol) redone++;
      for (let c = 0; c < C; c++) expect(mixed.perPatch[i * C + c]).toBeCloseTo(expected.perPatch[i * C + c]!, 5);
    });
    expect(redone).toBeGreaterThan(0);
    expect(redone).toBeLessThan(task.topPatches.length);
  });
});
