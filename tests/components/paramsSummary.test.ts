/** An evaluation result's header names its parameters in the forms' words. */
import { describe, expect, it } from "vitest";
import { paramsSummary } from "~/components/evaluations/shared";

describe("paramsSummary", () => {
  it("reads like the forms, lists joined, absent parameters left out", () => {
    expect(paramsSummary("groupMasking", { layerIndex: 1, groups: "core", draws: 5, topPatches: 10 })).toBe(
      "layer pair 1 · groups all core neurons · draws 5 · top patches 10",
    );
    expect(paramsSummary("optimality", { pairs: [0, 1, 2], taus: [2, 3], randomSets: 10, seed: 0 })).toBe(
      "layer pairs 0, 1, 2 · τ 2/3 · random sets 10 · seed 0",
    );
    expect(paramsSummary("faithfulness", { thresholds: [0, 0.5], draws: 3 })).toBe("2 thresholds · draws 3");
  });

  it("names layer pairs and groups when it knows the circuit's layers", () => {
    const layers = [
      { upper: "fc", lower: "layer4.1" },
      { upper: "layer4.1", lower: "layer4.0" },
    ];
    expect(paramsSummary("groupMasking", { layerIndex: 1, groups: "core", draws: 5 }, layers)).toBe(
      "layer pair layer4.1 ← layer4.0 · groups all core neurons · draws 5",
    );
    expect(paramsSummary("groupMasking", { layerIndex: 0, groups: [0, 3] }, layers)).toBe(
      "layer pair fc ← layer4.1 · groups 0, 3",
    );
    expect(paramsSummary("optimality", { pairs: [0, 1], taus: [10] }, layers)).toBe(
      "layer pairs fc ← layer4.1, layer4.1 ← layer4.0 · τ 10",
    );
  });
});
