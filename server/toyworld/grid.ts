/** A grid of example scenes, one row per class, for the docs. */
import sharp from "sharp";
import { deriveSeed } from "./random";
import { renderScene } from "./render";
import { CLASSES, drawScene, type WorldOptions } from "./scenes";

export async function writeGrid(o: {
  out: string;
  perClass: number;
  seed: number;
  scale?: number;
  gap?: number;
  world?: Partial<WorldOptions>;
}): Promise<void> {
  const size = 64;
  const scale = o.scale ?? 2;
  const gap = o.gap ?? 4;
  const cell = size * scale;
  const width = o.perClass * cell + (o.perClass + 1) * gap;
  const height = CLASSES.length * cell + (CLASSES.length + 1) * gap;
  const tiles: sharp.OverlayOptions[] = [];
  for (const [row, cls] of CLASSES.entries()) {
    for (let i = 0; i < o.perClass; i++) {
      const r = renderScene(drawScene(cls, deriveSeed(o.seed, "grid", cls, i), o.world));
      const input = await sharp(Buffer.from(r.pixels), { raw: { width: size, height: size, channels: 3 } })
        .resize(cell, cell, { kernel: "nearest" })
        .png()
        .toBuffer();
      tiles.push({ input, left: gap + i * (cell + gap), top: gap + row * (cell + gap) });
    }
  }
  await sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(tiles)
    .png({ compressionLevel: 9, palette: true, colours: 256, dither: 0 })
    .toFile(o.out);
}
