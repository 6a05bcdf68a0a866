/**
 * The demo model: a small torchvision-style ResNet built with the tfjs-layers functional API.
 *
 * stem (conv 3×3 stride 2 + BN + ReLU) → layer1..layer4 (two BasicBlocks each; stride 2 from
 * layer2) → global average pool → fc (logits, no softmax).
 *
 * Layer names mirror PyTorch module names: the output of each block is the layer named after the
 * block (`layer3.1`), its inner layers are `layer3.1.conv1`, `layer3.1.bn1`, …; the stem's output
 * is `stem`, the head is `fc`. A manifest can therefore name a layer's tensor by the layer name.
 */
import { tf } from "../neurflow";

export interface ResNetOptions {
  /** Number of classes (units of `fc`). */
  classes: number;
  /** Side of the square input. */
  inputSize: number;
  /** Channels of layer1..layer4. */
  widths: readonly [number, number, number, number];
  /** Seed of the weight initialisers; every layer gets its own seed derived from it. */
  seed: number;
}

export const DEFAULT_WIDTHS = [16, 32, 64, 128] as const;

/** The layer names of the circuit candidates, bottom-up: stem, layer1.0 … layer4.1, fc. */
export function resnetLayerNames(): string[] {
  const names = ["stem"];
  for (let i = 1; i <= 4; i++) for (let j = 0; j < 2; j++) names.push(`layer${i}.${j}`);
  names.push("fc");
  return names;
}

export function buildResNet(opts: ResNetOptions): tf.LayersModel {
  let seedCounter = 0;
  const nextSeed = () => (opts.seed * 1000 + ++seedCounter) >>> 0;
  const conv = (name: string, filters: number, kernel: number, stride: number) =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize: kernel,
      strides: stride,
      padding: "same",
      useBias: false,
      kernelInitializer: tf.initializers.heNormal({ seed: nextSeed() }),
    });
  const bn = (name: string) => tf.layers.batchNormalization({ name, axis: -1, momentum: 0.9, epsilon: 1e-5 });
  const relu = (name: string) => tf.layers.reLU({ name });

  const input = tf.input({ shape: [opts.inputSize, opts.inputSize, 3], name: "input" });
  let x = conv("stem.0", opts.widths[0], 3, 2).apply(input) as tf.SymbolicTensor;
  x = bn("stem.1").apply(x) as tf.SymbolicTensor;
  x = relu("stem").apply(x) as tf.SymbolicTensor;

  let cin = opts.widths[0];
  opts.widths.forEach((w, i) => {
    for (let j = 0; j < 2; j++) {
      const name = `layer${i + 1}.${j}`;
      const stride = i > 0 && j === 0 ? 2 : 1;
      let h = conv(`${name}.conv1`, w, 3, stride).apply(x) as tf.SymbolicTensor;
      h = bn(`${name}.bn1`).apply(h) as tf.SymbolicTensor;
      h = relu(`${name}.relu`).apply(h) as tf.SymbolicTensor;
      h = conv(`${name}.conv2`, w, 3, 1).apply(h) as tf.SymbolicTensor;
      h = bn(`${name}.bn2`).apply(h) as tf.SymbolicTensor;
      let identity = x;
      if (stride !== 1 || cin !== w) {
        identity = conv(`${name}.downsample.0`, w, 1, stride).apply(x) as tf.SymbolicTensor;
        identity = bn(`${name}.downsample.1`).apply(identity) as tf.SymbolicTensor;
      }
      const sum = tf.layers.add({ name: `${name}.add` }).apply([h, identity]) as tf.SymbolicTensor;
      x = relu(name).apply(sum) as tf.SymbolicTensor;
      cin = w;
    }
  });
  const pooled = tf.layers.globalAveragePooling2d({ name: "avgpool" }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({
      name: "fc",
      units: opts.classes,
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
      biasInitializer: "zeros",
    })
    .apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: "toyworld-resnet" });
}
