import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { generateDataset, type GroundTruth } from "~/server/toyworld/dataset";
import { decodeMask, renderScene } from "~/server/toyworld/render";
import { CLASS_PARTS, CLASSES, drawScene } from "~/server/toyworld/scenes";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "toyworld-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("dataset folder", () => {
  it("is byte-identical for the same seed", async () => {
    const a = fresh();
    const b = fresh();
    await generateDataset({ out: a, perClass: 4, seed: 21, quiet: true });
    await generateDataset({ out: b, perClass: 4, seed: 21, quiet: true });
    expect(readFileSync(join(a, "ground-truth.json")).equals(readFileSync(join(b, "ground-truth.json")))).toBe(true);
    for (const cls of CLASSES) {
      const files = readdirSync(join(a, cls)).sort();
      expect(files).toHaveLength(4);
      for (const f of files) expect(readFileSync(join(a, cls, f)).equals(readFileSync(join(b, cls, f)))).toBe(true);
    }
    const c = fresh();
    await generateDataset({ out: c, perClass: 4, seed: 22, quiet: true });
    expect(readFileSync(join(a, "bee", "0000.png")).equals(readFileSync(join(c, "bee", "0000.png")))).toBe(false);
  });

  it("has ground truth consistent with the images", async () => {
    const out = fresh();
    const summary = await generateDataset({ out, perClass: 6, seed: 5, quiet: true, world: { cueRateElsewhere: 0.3 } });
    const gt = JSON.parse(readFileSync(join(out, "ground-truth.json"), "utf8")) as GroundTruth;
    expect(gt.format).toBe("toyworld-ground-truth/1");
    expect(gt.images).toHaveLength(6 * CLASSES.length);
    expect(summary.images).toBe(gt.images.length);
    for (const im of gt.images) {
      const { data, info } = await sharp(join(out, im.file)).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([64, 64, 3]);
      // the PNG is the scene re-rendered from its seed
      const r = renderScene(drawScene(im.class, im.seed, gt.world));
      expect(Buffer.from(r.pixels).equals(data)).toBe(true);
      for (const part of CLASS_PARTS[im.class]) expect(im.parts.map((p) => p.name)).toContain(part);
      expect(im.cue).toBe(im.parts.some((p) => p.name === "flowers"));
      for (const p of im.parts) {
        const mask = decodeMask(p.mask, 64 * 64);
        let area = 0;
        const [x0, y0, x1, y1] = p.box;
        expect(x0 >= 0 && y0 >= 0 && x1 <= 64 && y1 <= 64 && x1 > x0 && y1 > y0).toBe(true);
        for (let i = 0; i < mask.length; i++) {
          if (!mask[i]) continue;
          area++;
          const x = i % 64;
          const y = Math.floor(i / 64);
          expect(x >= x0 && x < x1 && y >= y0 && y < y1).toBe(true);
        }
        expect(area).toBe(p.area);
        expect(area).toBeGreaterThan(0);
      }
    }
    expect(gt.images.some((im) => im.cue)).toBe(true);
  });
});
