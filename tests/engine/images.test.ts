/** Class images at the model's input size: exact, larger (resized like the platform's renders), WebP. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeImage, loadClassImages } from "~/server/neurflow/images";

const bee = "tests/fixtures/toyworld-a/images/bee/000.png";
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "neurflow-images-"));
  await sharp(bee).resize(150, 100, { fit: "fill" }).png().toFile(join(dir, "wide.png"));
  await sharp(bee).webp({ lossless: true }).toFile(join(dir, "bee.webp"));
});

describe("class images", () => {
  it("takes an image of the input size as it is", async () => {
    const raw = await sharp(bee).removeAlpha().raw().toBuffer();
    expect(Buffer.from(await decodeImage(bee, 64)).equals(raw)).toBe(true);
  });

  it("resizes a larger image to the input size as the viewer draws it (bilinear, whole image)", async () => {
    const got = await decodeImage(join(dir, "wide.png"), 64);
    const drawn = await sharp(join(dir, "wide.png"))
      .removeAlpha()
      .toColourspace("srgb")
      .resize(64, 64, { fit: "fill", kernel: "linear" })
      .raw()
      .toBuffer();
    expect(got.length).toBe(64 * 64 * 3);
    expect(Buffer.from(got).equals(drawn)).toBe(true);
  });

  it("refuses a smaller image instead of upsampling it", async () => {
    await expect(decodeImage(join(dir, "wide.png"), 128)).rejects.toThrow(
      /wide\.png is 150×100; the model takes 128×128 images \(a smaller image is not upsampled\)/,
    );
  });

  it("reads WebP, listed with the others in name order", async () => {
    const imgs = await loadClassImages(dir, 64);
    expect(imgs.names).toStrictEqual(["bee.webp", "wide.png"]);
    const raw = await sharp(bee).removeAlpha().raw().toBuffer();
    expect(Array.from(imgs.pixels.subarray(0, 64 * 64 * 3))).toStrictEqual(Array.from(raw));
    expect(readFileSync(join(dir, "bee.webp")).subarray(8, 12).toString()).toBe("WEBP");
  });
});
