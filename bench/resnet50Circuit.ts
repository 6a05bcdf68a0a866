/**
 * Scale check: a ResNet50-shaped model (random weights) at 224 px. Builds the model, writes a few
 * random-texture images, then runs a circuit (default fc, layer4.2, layer4.1) and prints the time
 * per target neuron of each layer pair and the peak RSS.
 * Usage: tsx bench/resnet50Circuit.ts [--images 8] [--tau 16] [--layers fc,layer4.2,layer4.1] [--ig-steps 50] [--out DIR]
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { initBackend } from "../server/neurflow/backend";
import { buildCircuit } from "../server/neurflow/circuit";
import { loadModel } from "../server/neurflow/model/loadModel";
import { tf } from "../server/neurflow/tf";
import { saveResnet50 } from "./resnet50";

const { values } = parseArgs({
  options: {
    images: { type: "string", default: "8" },
    tau: { type: "string", default: "16" },
    layers: { type: "string", default: "fc,layer4.2,layer4.1" },
    "ig-steps": { type: "string", default: "50" },
    out: { type: "string" },
  },
});
const backend = await initBackend();
const dir = join(tmpdir(), `neurflow-resnet50-${process.pid}`);
const imagesDir = join(dir, "images");
await mkdir(imagesDir, { recursive: true });
const t0 = performance.now();
const manifestPath = await saveResnet50(join(dir, "model"));
// smooth random textures: a few random colour blobs per image
const n = Number(values.images);
let seed = 7;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let i = 0; i < n; i++) {
  const px = Buffer.alloc(224 * 224 * 3);
  const blobs = Array.from({ length: 6 }, () => ({
    x: rand() * 224,
    y: rand() * 224,
    r: 20 + rand() * 60,
    c: [rand() * 255, rand() * 255, rand() * 255],
  }));
  for (let y = 0; y < 224; y++)
    for (let x = 0; x < 224; x++) {
      let c = [40 + rand() * 20, 40 + rand() * 20, 40 + rand() * 20];
      for (const b of blobs) if ((x - b.x) ** 2 + (y - b.y) ** 2 < b.r ** 2) c = b.c.map((v) => v + rand() * 30);
      px.set(
        c.map((v) => Math.max(0, Math.min(255, Math.round(v)))),
        (y * 224 + x) * 3,
      );
    }
  await sharp(px, { raw: { width: 224, height: 224, channels: 3 } })
    .png()
    .toFile(join(imagesDir, `${String(i).padStart(3, "0")}.png`));
}
// the class most of these images are assigned to
const model = await loadModel(manifestPath);
const { loadClassImages } = await import("../server/neurflow/images");
const imgs = await loadClassImages(imagesDir, 224);
const pred = tf.tidy(() =>
  model.graph
    .run({ [model.inputTensor]: model.preprocess(tf.tensor4d(imgs.pixels, [n, 224, 224, 3])) }, [
      model.logitsTensor,
    ])[0]!
    .argMax(1),
);
const counts = new Map<number, number>();
for (const c of await pred.data()) counts.set(c, (counts.get(c) ?? 0) + 1);
pred.dispose();
model.dispose();
const cls = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
const setupSeconds = (performance.now() - t0) / 1000;
const layers = values.layers!.split(",");
const started = performance.now();
const circuit = await buildCircuit(
  {
    manifestPath,
    images: imagesDir,
    className: `class${cls}`,
    layers,
    params: { tau: Number(values.tau), igSteps: Number(values["ig-steps"]) },
  },
  { onProgress: (p) => process.stderr.write(`\r${(p.fraction * 100).toFixed(0)}% ${p.message}      `) },
);
process.stderr.write("\n");
const result = {
  backend: backend.name,
  detail: backend.detail,
  images: circuit.images.length,
  patches: circuit.patches.length,
  setupSeconds,
  wallSeconds: (performance.now() - started) / 1000,
  activationSeconds: circuit.timings?.activations,
  peakRssMB: process.resourceUsage().maxRSS / 1024,
  pairs: circuit.layers.map((l) => ({
    pair: `${l.upper}←${l.lower}`,
    targets: l.targets.length,
    seconds: l.timings?.total,
    secondsPerTarget: (l.timings?.total ?? 0) / l.targets.length,
  })),
};
console.log(JSON.stringify(result));
if (values.out) await writeFile(join(values.out, "resnet50.json"), JSON.stringify(result, null, 2));
await rm(dir, { recursive: true, force: true });
