import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow";
import { loadModel, type ClassifierModel } from "~/server/neurflow";
import { readWorld } from "~/server/toyworld/check";
import { CUE_ONLY, cueChannels, type CueChannelsOfLayer } from "~/server/toyworld/cueChannels";
import { labelNeuronsByParts } from "~/server/toyworld/partLabels";
import { recoveryScenes } from "~/server/toyworld/recoveryScenes";

const DIR = "models/toyworld5";

describe("cue channels of models/toyworld5", () => {
  let model: ClassifierModel;
  let rows: CueChannelsOfLayer[];
  const world = readWorld(DIR);
  const options = { layers: ["layer2.1", "layer4.1"], perClass: 8, seed: 11, world };

  beforeAll(async () => {
    await initBackend();
    model = await loadModel(`${DIR}/manifest.json`);
    rows = await cueChannels(model, options);
  }, 120_000);
  afterAll(() => model?.dispose());

  it("keeps exactly the channels that respond to the flowers and not to the bee's own parts", async () => {
    for (const row of rows) {
      const labels = await labelNeuronsByParts(
        model,
        row.layer,
        Array.from({ length: row.width }, (_, i) => i),
        recoveryScenes("labels", "bee", 8, 11, world),
        ["body", "stripes", "wings", "flowers"],
      );
      const expected = labels.filter((n) => {
        const f = n.drops.flowers!.drop;
        return (
          f >= CUE_ONLY.minDrop &&
          Math.max(n.drops.body!.drop, n.drops.stripes!.drop, n.drops.wings!.drop) < CUE_ONLY.maxShare * f
        );
      });
      expect(row.cueOnly).toEqual(expected.map((n) => n.neuron));
      expect(row.cueLed).toBe(labels.filter((n) => n.label === "flowers").length);
    }
    expect(rows.map((r) => r.width)).toEqual([32, 128]);
  });

  it("zeroes them on the same bees with and without the flowers", () => {
    for (const row of rows) {
      if (!row.cueOnly.length) {
        expect(row.zeroing).toBeNull();
        continue;
      }
      const z = row.zeroing!;
      // the flowers raise P(bee): the model was trained with them beside 95% of the bees
      expect(z.present.before.p).toBeGreaterThan(z.absent.before.p);
      expect(z.present.after.logit).not.toBeCloseTo(z.present.before.logit, 3);
    }
    expect(rows.some((r) => r.zeroing)).toBe(true);
  });
});
