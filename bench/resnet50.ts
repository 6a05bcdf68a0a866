/**
 * A ResNet50-shaped classifier built with tfjs-layers (random weights: for timing only), saved as a
 * TF.js layers model with a manifest the engine loads like any user model. Block outputs are named
 * like torchvision modules (layer1.0 … layer4.2), the head `fc`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileIOHandler } from "../server/neurflow/model/layers/fileIO";
import { tf } from "../server/neurflow/tf";

function convBn(
  x: tf.SymbolicTensor,
  filters: number,
  kernel: number,
  stride: number,
  name: string,
  relu: boolean,
  seed: number,
): tf.SymbolicTensor {
  let y = tf.layers
    .conv2d({
      filters,
      kernelSize: kernel,
      strides: stride,
      padding: "same",
      useBias: false,
      name: `${name}.conv`,
      kernelInitializer: tf.initializers.heNormal({ seed }),
    })
    .apply(x) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ name: `${name}.bn` }).apply(y) as tf.SymbolicTensor;
  return relu ? (tf.layers.reLU({ name: `${name}.relu` }).apply(y) as tf.SymbolicTensor) : y;
}

export function resnet50(size = 224, classes = 1000, widthScale = 1): tf.LayersModel {
  let seed = 1;
  const input = tf.input({ shape: [size, size, 3], name: "input" });
  let x = convBn(input, 64 * widthScale, 7, 2, "stem", true, seed++);
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same", name: "stem" }).apply(x) as tf.SymbolicTensor;
  const stages: [number, number][] = [
    [64, 3],
    [128, 4],
    [256, 6],
    [512, 3],
  ];
  let inChannels = 64 * widthScale;
  stages.forEach(([width, blocks], si) => {
    const w = width * widthScale;
    for (let b = 0; b < blocks; b++) {
      const name = `layer${si + 1}.${b}`;
      const stride = b === 0 && si > 0 ? 2 : 1;
      let h = convBn(x, w, 1, 1, `${name}.1`, true, seed++);
      h = convBn(h, w, 3, stride, `${name}.2`, true, seed++);
      h = convBn(h, w * 4, 1, 1, `${name}.3`, false, seed++);
      const idt = b === 0 ? convBn(x, w * 4, 1, stride, `${name}.down`, false, seed++) : x;
      const sum = tf.layers.add({ name: `${name}.add` }).apply([h, idt]) as tf.SymbolicTensor;
      x = tf.layers.reLU({ name }).apply(sum) as tf.SymbolicTensor;
      inChannels = w * 4;
    }
  });
  void inChannels;
  x = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: classes, name: "fc", kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }) })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: "resnet50" });
}

export const RESNET50_LAYERS = [
  "stem",
  ...[3, 4, 6, 3].flatMap((n, s) => Array.from({ length: n }, (_, b) => `layer${s + 1}.${b}`)),
  "fc",
];

/** Writes model.json + weights + manifest.json into `dir`; returns the manifest path. */
export async function saveResnet50(dir: string, size = 224, classes = 1000): Promise<string> {
  await mkdir(dir, { recursive: true });
  const model = resnet50(size, classes);
  await model.save(fileIOHandler(join(dir, "model.json")));
  model.dispose();
  const manifest = {
    name: "resnet50-random",
    format: "tfjs-layers",
    file: "model.json",
    input: { size, layout: "NHWC", scale: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    classes: Array.from({ length: classes }, (_, i) => `class${i}`),
    layers: RESNET50_LAYERS.map((name) => ({ name, tensor: name })),
  };
  const path = join(dir, "manifest.json");
  await writeFile(path, JSON.stringify(manifest));
  return path;
}
