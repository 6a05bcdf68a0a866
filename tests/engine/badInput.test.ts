/** Bad inputs to a circuit run: each a clear error, raised before any long work. */
import { mkdtempSync, writeFileSync, copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { buildCircuit } from "~/server/neurflow/circuit";
import { parseManifest } from "~/server/neurflow/model/manifest";
import { resolveParams } from "~/server/neurflow/presets";
import type { CircuitRequest } from "~/server/neurflow/runTypes";

const dir = "tests/fixtures/toyworld-a";
const base: CircuitRequest = {
  manifestPath: `${dir}/manifest.json`,
  images: [`${dir}/images/bee/000.png`, `${dir}/images/bee/001.png`],
  className: "bee",
  layers: ["fc", "layer4.1"],
  params: { tau: 4, k: 10, igSteps: 2 },
};

describe("circuit run input validation", () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "neurflow-bad-"));
    writeFileSync(join(tmp, "notes.png"), "this is not a picture");
    await sharp({ create: { width: 32, height: 32, channels: 3, background: "#808080" } })
      .png()
      .toFile(join(tmp, "small.png"));
    mkdirSync(join(tmp, "empty"));
  });

  it("rejects a Gauss–Kronrod rule of another size than 15 nodes; another N alone means Gauss–Legendre", async () => {
    await expect(
      buildCircuit({ ...base, params: { ...base.params, igMethod: "gausskronrod", igSteps: 8 } }),
    ).rejects.toThrow(/Gauss–Kronrod rule has 15 nodes, got ig steps 8/);
    expect(resolveParams({}).igMethod).toBe("gausskronrod");
    expect(resolveParams({}).igSteps).toBe(15);
    expect(resolveParams({ igSteps: 8 })).toMatchObject({ igMethod: "gausslegendre", igSteps: 8 });
    expect(resolveParams({ preset: "reference" })).toMatchObject({ igMethod: "gausslegendre", igSteps: 50 });
  });

  it("rejects a class name that is not in the manifest", async () => {
    await expect(buildCircuit({ ...base, className: "zebra" })).rejects.toThrow(
      /class "zebra" is not in the model's classes/,
    );
  });

  it("rejects τ larger than a layer", async () => {
    await expect(buildCircuit({ ...base, params: { ...base.params, tau: 129 } })).rejects.toThrow(
      /τ = 129 is larger than layer "layer4.1", which has 128 channels/,
    );
  });

  it("rejects layers not in the manifest, or not top-down", async () => {
    await expect(buildCircuit({ ...base, layers: ["fc", "layer9"] })).rejects.toThrow(
      /layer "layer9" is not in the manifest/,
    );
    await expect(buildCircuit({ ...base, layers: ["layer4.1", "fc"] })).rejects.toThrow(/top-down/);
  });

  it("rejects images of the wrong size", async () => {
    await expect(buildCircuit({ ...base, images: [join(tmp, "small.png")] })).rejects.toThrow(
      /small\.png is 32×32; the model takes 64×64/,
    );
  });

  it("rejects files that are not images", async () => {
    await expect(buildCircuit({ ...base, images: [join(tmp, "notes.png")] })).rejects.toThrow(
      /notes\.png is not a readable PNG, JPEG or WebP/,
    );
  });

  it("rejects a folder without images", async () => {
    await expect(buildCircuit({ ...base, images: join(tmp, "empty") })).rejects.toThrow(/no PNG, JPEG or WebP images/);
  });

  it("rejects images none of which the model assigns to the class", async () => {
    await expect(buildCircuit({ ...base, images: [`${dir}/images/car/000.png`] })).rejects.toThrow(
      /none of the 1 images is classified as "bee"/,
    );
  });

  it("rejects a manifest naming a tensor that is not in the model", async () => {
    const m = JSON.parse(await import("node:fs").then((fs) => fs.readFileSync(`${dir}/manifest.json`, "utf8")));
    m.layers[3].tensor = "/no/such/tensor";
    const mdir = join(tmp, "model");
    mkdirSync(mdir, { recursive: true });
    copyFileSync(`${dir}/toynet.onnx`, join(mdir, "toynet.onnx"));
    writeFileSync(join(mdir, "manifest.json"), JSON.stringify(m));
    await expect(buildCircuit({ ...base, manifestPath: join(mdir, "manifest.json") })).rejects.toThrow(
      /\/no\/such\/tensor/,
    );
  });

  it("rejects a checkpoint from another run", async () => {
    await expect(buildCircuit(base, { resume: { requestKey: "other", layers: [] } })).rejects.toThrow(
      /checkpoint belongs to another run/,
    );
  });
});

describe("manifest validation messages", () => {
  const good = () => JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8")) as Record<string, unknown>;
  it("name what is wrong in the manifest's terms", () => {
    expect(() => parseManifest({ ...good(), name: undefined, format: "keras" })).toThrow(
      /name is missing; format must be one of "onnx", "tfjs-layers"/,
    );
    expect(() => parseManifest({ ...good(), classes: ["bee"] })).toThrow(/classes must list at least 2 items/);
    expect(() => parseManifest({ ...good(), input: { ...(good().input as object), size: 4 } })).toThrow(
      /input\.size must be at least 8/,
    );
    expect(() => parseManifest([])).toThrow(/the manifest must be an object/);
  });
  it("show the first five problems and count the rest", () => {
    expect(() => parseManifest({})).toThrow(/; and 1 more \(see docs\/manifest\.md\)$/);
  });
});
