/**
 * The concept match's pieces: Spearman's rank correlation on hand-made numbers (ties, constants),
 * and `conceptMatch` of a circuit against itself (every group's best match is itself at 1) and
 * against a circuit of another class of the same model (strengths in [−1, 1], the logit's groups
 * compared only with the logit's).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { conceptMatch, spearman } from "~/server/neurflow/conceptMatch";
import { initBackend } from "~/server/neurflow/backend";
import { loadModel, type ClassifierModel } from "~/server/neurflow/model/loadModel";
import type { Circuit } from "~/server/neurflow/circuitFormat";
import { FIXTURE, FIXTURE_IMAGES } from "../helpers/fixtures";
import { toyCircuit } from "../helpers/viewerSeed";

describe("spearman", () => {
  it("is 1 for a monotone pair, −1 reversed, handles ties, 0 for a constant", () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 400])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // ties share their mean rank: ranks x = [0, 1.5, 1.5, 3], y = [0, 1, 2, 3]
    const r = spearman([1, 2, 2, 3], [1, 2, 3, 4]);
    const rx = [0, 1.5, 1.5, 3];
    const ry = [0, 1, 2, 3];
    const mx = 1.5;
    const num = rx.reduce((a, x, i) => a + (x - mx) * (ry[i]! - mx), 0);
    const den = Math.sqrt(rx.reduce((a, x) => a + (x - mx) ** 2, 0) * ry.reduce((a, y) => a + (y - mx) ** 2, 0));
    expect(r).toBeCloseTo(num / den, 12);
    expect(spearman([5, 5, 5], [1, 2, 3])).toBe(0);
    expect(() => spearman([1], [1, 2])).toThrow(/lengths differ/);
  });
});

describe("conceptMatch", () => {
  let bee: Circuit;
  let ladybug: Circuit;
  let model: ClassifierModel;
  const files = (c: Circuit) => c.images.map((n) => join(FIXTURE_IMAGES, c.class.name, n));
  beforeAll(async () => {
    await initBackend();
    bee = await toyCircuit("bee");
    ladybug = await toyCircuit(readdirSync(FIXTURE_IMAGES).includes("ladybug") ? "ladybug" : "tree");
    model = await loadModel(join(FIXTURE, "manifest.json"));
  }, 120_000);

  it("matches a circuit with itself: each group's best match is itself at strength 1", async () => {
    const side = { circuit: bee, model, images: files(bee) };
    const r = await conceptMatch(side, side);
    expect(r.a.length).toBeGreaterThan(2);
    r.a.forEach((g, i) => {
      expect(r.strength[i]![i]).toBeCloseTo(1, 9);
      expect(g.matched).toBe(true);
      expect(g.best!.strength).toBeCloseTo(1, 9);
      // its best match is itself, or a group of the same layer ranking the probe alike (the logit's
      // semantic groups are one neuron with two references: their profiles have the same ranks)
      const b = g.best!.group;
      expect(b === i || r.b[b]!.pairIndex === g.pairIndex).toBe(true);
      expect(r.profiles.b[i]).toEqual(r.profiles.a[i]);
    });
    expect(r.probe.filter((p) => p.side === "a").length).toBe(r.probe.filter((p) => p.side === "b").length);
  }, 60_000);

  it("compares two classes of one model: strengths in [−1, 1], logit groups only with logit groups", async () => {
    const r = await conceptMatch(
      { circuit: bee, model, images: files(bee) },
      { circuit: ladybug, model, images: files(ladybug) },
      { patchesPerGroup: 4 },
    );
    r.a.forEach((ga, i) =>
      r.b.forEach((gb, j) => {
        const s = r.strength[i]![j]!;
        if ((ga.pairIndex === 0) !== (gb.pairIndex === 0)) expect(s).toBeNull();
        else {
          expect(s).toBeGreaterThanOrEqual(-1 - 1e-9);
          expect(s).toBeLessThanOrEqual(1 + 1e-9);
        }
      }),
    );
    for (const g of [...r.a, ...r.b]) expect(g.matched).toBe(g.best != null && g.best.strength >= 0.5);
    expect(r.params.probePatches).toBe(r.probe.length);
    expect(r.profiles.a.every((p) => p.length === r.probe.length)).toBe(true);
  }, 60_000);

  it("refuses images that are not the circuit's", async () => {
    await expect(
      conceptMatch({ circuit: bee, model, images: files(bee).slice(1) }, { circuit: bee, model, images: files(bee) }),
    ).rejects.toThrow(/images given/);
  });
});
