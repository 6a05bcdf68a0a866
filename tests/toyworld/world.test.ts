import { describe, expect, it } from "vitest";
import { deriveSeed } from "~/server/toyworld/random";
import { renderScene } from "~/server/toyworld/render";
import { CLASSES, CUE_CLASS, DEFAULT_WORLD, drawScene, type WorldOptions } from "~/server/toyworld/scenes";
import { worldFlags, worldFromFlags, worldFromRecord } from "~/server/toyworld/world";

/** The flags string `worldFlags` writes, back into an argument record. */
function flagsToArgs(flags: string): Record<string, string> {
  const words = flags.split(" ");
  const args: Record<string, string> = {};
  for (let i = 0; i < words.length; i += 2) args[words[i]!.slice(2)] = words[i + 1]!;
  return args;
}

const WORLD3: Partial<WorldOptions> = {
  cueRate: 0.95,
  cueRateElsewhere: 0,
  farRate: 0.5,
  farRateElsewhere: 0.3,
  farScale: [0.16, 0.3],
  flowerCentre: [120, 40, 160],
};

describe("world options from flags and records", () => {
  it("reads every flag and writes flags that give the same world back", () => {
    const w = worldFromFlags({
      "cue-rate": "0.95",
      "cue-rate-elsewhere": "0",
      "far-rate": "0.5",
      "far-rate-elsewhere": "0.3",
      "far-scale": "0.16,0.3",
      "flower-centre": "120,40,160",
    });
    expect(w).toEqual({ ...DEFAULT_WORLD, ...WORLD3 });
    expect(worldFromFlags(flagsToArgs(worldFlags(w)))).toEqual(w);
    expect(worldFromFlags({})).toEqual(DEFAULT_WORLD);
    const w4 = worldFromFlags({ "cue-rate-in": "tree:0.5,car:0.1" });
    expect(w4.cueRateIn).toEqual({ tree: 0.5, car: 0.1 });
    expect(worldFromFlags(flagsToArgs(worldFlags(w4)))).toEqual(w4);
  });

  it("rejects bad flags with the flag's name", () => {
    expect(() => worldFromFlags({ "cue-rate": "1.5" })).toThrow(/--cue-rate 1\.5/);
    expect(() => worldFromFlags({ "far-rate": "x" })).toThrow(/--far-rate x/);
    expect(() => worldFromFlags({ "far-scale": "0.3,0.2" })).toThrow(/--far-scale/);
    expect(() => worldFromFlags({ "flower-centre": "300,0,0" })).toThrow(/--flower-centre/);
    expect(() => worldFromFlags({ "flower-centre": "1,2" })).toThrow(/--flower-centre/);
    expect(() => worldFromFlags({ "cue-rate-in": "bee:0.5" })).toThrow(/--cue-rate-in bee:0\.5/);
    expect(() => worldFromFlags({ "cue-rate-in": "dragon:0.5" })).toThrow(/--cue-rate-in/);
    expect(() => worldFromFlags({ "cue-rate-in": "tree:2" })).toThrow(/--cue-rate-in/);
    expect(() => worldFromFlags({ "cue-rate-in": "tree" })).toThrow(/--cue-rate-in/);
  });

  it("reads a model's record, giving missing options the values older models were trained with", () => {
    // a record from before far objects, the far rate and the flower centre were options
    const old = worldFromRecord({ cueClass: "bee", cuePart: "flowers", cueRate: 0.8, cueRateElsewhere: 0.05 });
    expect(old).toEqual({ ...DEFAULT_WORLD, farRateElsewhere: 0 });
    expect(old.farRate).toBe(0.3);
    expect(old.flowerCentre).toEqual([250, 215, 60]);
    expect(worldFromRecord({ cueClass: "bee", ...WORLD3 })).toEqual({ ...DEFAULT_WORLD, ...WORLD3 });
    expect(() => worldFromRecord({ farRate: 2 })).toThrow(/world\.farRate/);
    expect(() => worldFromRecord({ flowerCentre: "purple" })).toThrow(/world\.flowerCentre/);
    expect(() => worldFromRecord({ cueRateIn: { bee: 0.5 } })).toThrow(/world\.cueRateIn/);
    expect(worldFromRecord({ cueRateIn: { tree: 0.5 } }).cueRateIn).toEqual({ tree: 0.5 });
  });
});

describe("world options in scenes", () => {
  it("the flower centre colours only the flowers' centres", () => {
    for (let i = 0; i < 10; i++) {
      const seed = deriveSeed(31, i);
      const a = renderScene(drawScene("bee", seed, { cueRate: 1 }));
      const b = renderScene(drawScene("bee", seed, { cueRate: 1, flowerCentre: [120, 40, 160] }));
      const flowers = a.parts.find((p) => p.name === "flowers")!;
      let changed = 0;
      for (let px = 0; px < a.pixels.length / 3; px++) {
        const differs = [0, 1, 2].some((c) => a.pixels[px * 3 + c] !== b.pixels[px * 3 + c]);
        if (!differs) continue;
        changed++;
        expect(flowers.mask[px], `scene ${i} pixel ${px}`).toBeGreaterThan(0);
      }
      // a centre of radius 1.9 px per flower, 2–4 flowers (less where the bee hides one)
      expect(changed).toBeGreaterThan(4);
      expect(changed).toBeLessThan(flowers.area / 2);
    }
  });

  it("a per-class cue rate applies to that class only", () => {
    const share = (cls: (typeof CLASSES)[number], options: Partial<WorldOptions>, n = 400) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (drawScene(cls, deriveSeed(10, cls, i), options).cue) k++;
      return k / n;
    };
    const w = { cueRateElsewhere: 0, cueRateIn: { tree: 0.5 } };
    expect(Math.abs(share("tree", w) - 0.5)).toBeLessThan(0.1);
    expect(share("tree", { ...w, cueRateIn: { tree: 1 } })).toBe(1);
    for (const cls of CLASSES.filter((c) => c !== "tree" && c !== CUE_CLASS)) expect(share(cls, w, 100)).toBe(0);
  });

  it("the far rate sets how many bees are far, and nothing else", () => {
    const farShare = (options: Partial<WorldOptions>, n = 400) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (drawScene(CUE_CLASS, deriveSeed(8, i), options).pose.s < 0.5) k++;
      return k / n;
    };
    expect(farShare({ farRate: 0 })).toBe(0);
    expect(farShare({ farRate: 1 })).toBe(1);
    // binomial sd at n = 400, p = 0.5: 0.025
    expect(Math.abs(farShare({ farRate: 0.5 }) - 0.5)).toBeLessThan(0.1);
    for (const cls of CLASSES.filter((c) => c !== CUE_CLASS)) {
      const seed = deriveSeed(9, cls);
      expect(JSON.stringify(drawScene(cls, seed, { farRate: 1 }))).toBe(
        JSON.stringify(drawScene(cls, seed, { farRate: 0 })),
      );
    }
  });
});
