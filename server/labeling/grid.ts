/**
 * Concept-patch images for the model: each patch [imageIndex, x, y, size] is cropped from its class
 * image (brought to the model's input size, as the engine sees it), resized to one cell, and the
 * cells are laid out in a grid on a grey background. PNG out.
 *
 * Where the patch pixels come from is a `PatchSource`: the circuit viewer's patch renderer
 * (server/circuits/renders.ts, for circuits computed by a run) or, for imported circuits whose
 * images are found in a registered dataset, `FilePatchSource` below.
 */
import sharp from "sharp";
import type { Db } from "~/db/client";
import { patchFromImageFile, patchRaw } from "~/server/circuits/renders";

/** One patch of the circuit (by index) as an encoded image `side` px square. */
export interface PatchSource {
  patch(index: number, side: number): Promise<Buffer>;
}

/** The viewer's renderer: the patch as the model saw it (crop of the model-size image, resized back). */
export function renderedPatchSource(db: Db, circuitId: number): PatchSource {
  return {
    async patch(index, side) {
      const raw = await patchRaw(db, circuitId, index);
      if (!raw) throw new Error(`patch ${index}: the circuit's images are not on this server`);
      return sharp(raw.data, { raw: { width: raw.size, height: raw.size, channels: 3 } })
        .resize(side, side, { kernel: "lanczos3" })
        .png()
        .toBuffer();
    },
  };
}

export type PatchBox = [number, number, number, number];

/** The viewer's rendering from the circuit's image files (`files[i]` is image i): what `renderedPatchSource` draws, on a machine without the database. */
export function renderedFilePatchSource(
  files: readonly string[],
  inputSize: number,
  boxes: readonly PatchBox[],
): PatchSource {
  return {
    async patch(index, side) {
      const box = boxes[index];
      if (!box) throw new Error(`patch ${index} is not in the circuit`);
      const file = files[box[0]];
      if (file == null) throw new Error(`image ${box[0]} is not in the circuit's image list`);
      const png = await patchFromImageFile(file, { x: box[1], y: box[2], size: box[3], inputSize });
      return sharp(png).resize(side, side, { kernel: "lanczos3" }).png().toBuffer();
    },
  };
}

export interface GridOptions {
  /** Side of one cell in pixels. */
  cell?: number;
  /** Gap between cells. */
  gap?: number;
  /** Cells per row (default: ceil(sqrt(n))). */
  columns?: number;
}

/** Patches cut from the class image files (loaded once each, at the model's input size). */
export class FilePatchSource implements PatchSource {
  private readonly cache = new Map<number, Promise<Buffer>>();
  constructor(
    private readonly files: readonly string[],
    private readonly inputSize: number,
    private readonly boxes: readonly PatchBox[],
  ) {}

  patch(index: number, side: number): Promise<Buffer> {
    const box = this.boxes[index];
    if (!box) return Promise.reject(new Error(`patch ${index} is not in the circuit`));
    return this.crop(box, side);
  }

  image(index: number): Promise<Buffer> {
    let p = this.cache.get(index);
    if (!p) {
      const file = this.files[index];
      if (file == null) return Promise.reject(new Error(`image ${index} is not in the circuit's image list`));
      p = sharp(file, { failOn: "error" })
        .removeAlpha()
        .resize(this.inputSize, this.inputSize, { fit: "fill" })
        .png()
        .toBuffer();
      this.cache.set(index, p);
    }
    return p;
  }

  /** One patch box, resized to `side` px square. */
  async crop([img, x, y, size]: PatchBox, side: number): Promise<Buffer> {
    const s = this.inputSize;
    if (x < 0 || y < 0 || size < 1 || x + size > s || y + size > s)
      throw new Error(`patch [${img}, ${x}, ${y}, ${size}] lies outside the ${s}×${s} image`);
    return sharp(await this.image(img))
      .extract({ left: x, top: y, width: size, height: size })
      .resize(side, side, { kernel: "lanczos3" })
      .png()
      .toBuffer();
  }
}

/** The grid of the given patches (indices into the circuit's patches), in order, row by row. */
export async function patchGrid(
  source: PatchSource,
  patches: readonly number[],
  opts: GridOptions = {},
): Promise<Buffer> {
  if (patches.length === 0) throw new Error("no patches to show");
  const cell = opts.cell ?? 112;
  const gap = opts.gap ?? 4;
  const cols = opts.columns ?? Math.ceil(Math.sqrt(patches.length));
  const rows = Math.ceil(patches.length / cols);
  const tiles = await Promise.all(patches.map((p) => source.patch(p, cell)));
  return sharp({
    create: {
      width: cols * cell + (cols + 1) * gap,
      height: rows * cell + (rows + 1) * gap,
      channels: 3,
      background: { r: 128, g: 128, b: 128 },
    },
  })
    .composite(
      tiles.map((input, i) => ({
        input,
        left: gap + (i % cols) * (cell + gap),
        top: gap + Math.floor(i / cols) * (cell + gap),
      })),
    )
    .png()
    .toBuffer();
}
