import { describe, expect, it } from "vitest";
import { deriveSeed, Rng } from "~/server/toyworld/random";
import { decodeMask, encodeMask, renderScene } from "~/server/toyworld/render";
import { CLASS_PARTS, CLASSES, CUE_CLASS, DEFAULT_WORLD, drawScene } from "~/server/toyworld/scenes";

describe("seeded randomness", () => {
  it("repeats exactly for a seed and differs between seeds", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 50 }, () => a.nextUint32());
    const xb = Array.from({ length: 50 }, () => b.nextUint32());
    const xc = Array.from({ length: 50 }, () => c.nextUint32());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
    expect(deriveSeed(1, "train", 0, "bee", 3)).toBe(deriveSeed(1, "train", 0, "bee", 3));
    expect(deriveSeed(1, "train", 0, "bee", 3)).not.toBe(deriveSeed(1, "train", 0, "bee", 4));
  });

  it("is roughly uniform", () => {
    const r = new Rng(7);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 20000; i++) bins[Math.floor(r.next() * 10)]++;
    for (const b of bins) expect(Math.abs(b - 2000)).toBeLessThan(200);
  });
});

describe("scenes", () => {
  it("same class and seed give the same description and the same pixels", () => {
    for (const cls of CLASSES) {
      const seed = deriveSeed(5, cls);
      const s1 = drawScene(cls, seed);
      const s2 = drawScene(cls, seed);
      expect(JSON.stringify(s1)).toBe(JSON.stringify(s2));
      expect(Buffer.from(renderScene(s1).pixels).equals(Buffer.from(renderScene(s2).pixels))).toBe(true);
      expect(
        Buffer.from(renderScene(drawScene(cls, seed + 1)).pixels).equals(Buffer.from(renderScene(s1).pixels)),
      ).toBe(false);
    }
  });

  it("every scene has its class's defining parts, visible and inside the image", () => {
    for (const cls of CLASSES) {
      for (let i = 0; i < 40; i++) {
        const scene = drawScene(cls, deriveSeed(11, cls, i));
        const r = renderScene(scene);
        expect(r.pixels.length).toBe(64 * 64 * 3);
        const visible = new Set(r.parts.filter((p) => p.area > 0).map((p) => p.name));
        for (const part of CLASS_PARTS[cls]) expect(visible, `${cls} #${i} ${part}`).toContain(part);
        for (const p of r.parts) {
          if (!p.box) continue;
          const [x0, y0, x1, y1] = p.box;
          expect(x0).toBeGreaterThanOrEqual(0);
          expect(y0).toBeGreaterThanOrEqual(0);
          expect(x1).toBeLessThanOrEqual(64);
          expect(y1).toBeLessThanOrEqual(64);
          expect(x1).toBeGreaterThan(x0);
          expect(y1).toBeGreaterThan(y0);
        }
      }
    }
  });

  it("leaving one part out changes only that part's pixels", () => {
    let checkedParts = 0;
    for (const cls of CLASSES) {
      for (let i = 0; i < 12; i++) {
        const scene = drawScene(cls, deriveSeed(12, cls, i), { cueRateElsewhere: 0.5, decorationRate: 0.8 });
        const full = renderScene(scene);
        for (const part of full.parts) {
          const without = renderScene(scene, { omit: [part.name] });
          expect(without.parts.map((p) => p.name)).not.toContain(part.name);
          let changed = 0;
          for (let px = 0; px < 64 * 64; px++) {
            const differs =
              full.pixels[px * 3] !== without.pixels[px * 3] ||
              full.pixels[px * 3 + 1] !== without.pixels[px * 3 + 1] ||
              full.pixels[px * 3 + 2] !== without.pixels[px * 3 + 2];
            if (differs) {
              changed++;
              expect(part.mask[px], `${cls} #${i}: pixel ${px} changed outside ${part.name}`).toBe(1);
            }
          }
          if (part.area >= 10) expect(changed, `${cls} #${i} ${part.name}`).toBeGreaterThan(part.area / 4);
          checkedParts++;
        }
      }
    }
    expect(checkedParts).toBeGreaterThan(200);
  });

  it("masks round-trip through the run-length encoding", () => {
    const r = renderScene(drawScene("ladybug", 3));
    for (const p of r.parts) {
      const counts = encodeMask(p.mask);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(64 * 64);
      expect(Buffer.from(decodeMask(counts, 64 * 64)).equals(Buffer.from(p.mask))).toBe(true);
    }
  });
});

describe("the planted cue", () => {
  const rate = (cls: (typeof CLASSES)[number], n: number, options = {}) => {
    let k = 0;
    for (let i = 0; i < n; i++) if (drawScene(cls, deriveSeed(99, cls, i), options).cue) k++;
    return k / n;
  };

  it("co-occurs with bees at the cue rate and is rare elsewhere", () => {
    const n = 3000;
    // binomial standard deviation at n = 3000: 0.0073 for 0.8, 0.004 for 0.05; bounds are > 4 sd
    expect(Math.abs(rate(CUE_CLASS, n) - DEFAULT_WORLD.cueRate)).toBeLessThan(0.03);
    for (const cls of CLASSES.filter((c) => c !== CUE_CLASS)) {
      expect(Math.abs(rate(cls, n) - DEFAULT_WORLD.cueRateElsewhere)).toBeLessThan(0.02);
    }
  });

  it("a control world has it as rare in bees as elsewhere", () => {
    const control = { cueRate: DEFAULT_WORLD.cueRateElsewhere };
    expect(Math.abs(rate(CUE_CLASS, 3000, control) - DEFAULT_WORLD.cueRateElsewhere)).toBeLessThan(0.02);
    expect(rate(CUE_CLASS, 500, { cueRate: 0 })).toBe(0);
    expect(rate(CUE_CLASS, 500, { cueRate: 1 })).toBe(1);
  });

  it("does not change the rest of the scene", () => {
    // the cue is drawn whether or not it is shown, so the same seed gives the same bee either way
    for (let i = 0; i < 20; i++) {
      const seed = deriveSeed(3, i);
      const a = drawScene("bee", seed, { cueRate: 1 });
      const b = drawScene("bee", seed, { cueRate: 0 });
      expect(JSON.stringify(a.parts.filter((p) => p.name !== "flowers"))).toBe(JSON.stringify(b.parts));
      expect(Buffer.from(renderScene(a, { omit: ["flowers"] }).pixels).equals(Buffer.from(renderScene(b).pixels))).toBe(
        true,
      );
    }
  });
});

describe("far objects outside the cue class", () => {
  it("are absent by default, drawn at the world's rate, and leave the cue class alone", () => {
    const farShare = (cls: (typeof CLASSES)[number], n: number, options = {}) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (drawScene(cls, deriveSeed(5, cls, i), options).pose.s < 0.5) k++;
      return k / n;
    };
    for (const cls of CLASSES.filter((c) => c !== CUE_CLASS)) {
      expect(farShare(cls, 300, { farRateElsewhere: 0 })).toBe(0);
      expect(farShare(cls, 300, { farRateElsewhere: 1 })).toBe(1);
      // binomial sd at n = 1000, p = 0.3: 0.0145
      expect(Math.abs(farShare(cls, 1000, { farRateElsewhere: 0.3 }) - 0.3)).toBeLessThan(0.06);
    }
    for (let i = 0; i < 20; i++) {
      const seed = deriveSeed(6, i);
      expect(JSON.stringify(drawScene(CUE_CLASS, seed, { farRateElsewhere: 1 }))).toBe(
        JSON.stringify(drawScene(CUE_CLASS, seed, { farRateElsewhere: 0 })),
      );
    }
  });

  it("still show every defining part, inside the image", () => {
    for (const cls of CLASSES) {
      for (let i = 0; i < 30; i++) {
        const r = renderScene(drawScene(cls, deriveSeed(12, cls, i), { farRateElsewhere: 1 }));
        const visible = new Set(r.parts.filter((p) => p.area > 0).map((p) => p.name));
        for (const part of CLASS_PARTS[cls]) expect(visible, `far ${cls} #${i} ${part}`).toContain(part);
      }
    }
  });
});
