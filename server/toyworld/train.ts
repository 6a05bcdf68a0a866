/**
 * Training the demo model on freshly generated toy-world scenes, reproducibly from a seed:
 * the weight initialisers are seeded, and every scene and the batch order come from seeds
 * derived from it. Each epoch sees new scenes (the world is unlimited), and the held-out
 * accuracy is measured on scenes no epoch saw.
 */
import { writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { createProgressBar, initBackend, tf } from "../neurflow";
import { argmax, IMAGENET_MEAN, IMAGENET_STD, normalizeInto, predictLogits } from "./data";
import { buildResNet, DEFAULT_WIDTHS, resnetLayerNames } from "./model";
import { MODEL_FILE, saveLayersModel } from "./modelFiles";
import { deriveSeed, Rng } from "./random";
import { renderScene } from "./render";
import { CLASSES, CUE_CLASS, CUE_PART, DEFAULT_WORLD, drawScene, type Scene, type WorldOptions } from "./scenes";
import { registerWasmTrainingKernels } from "./wasmKernels";
import { worldDefinition, worldFlags, type WorldDefinition } from "./world";

export interface TrainOptions {
  out: string;
  seed: number;
  /** The world the scenes are drawn from (the default world where not given). */
  world?: Partial<WorldDefinition>;
  epochs: number;
  /** Training scenes per class per epoch. */
  perClass: number;
  /** Held-out scenes per class. */
  valPerClass: number;
  batchSize: number;
  learningRate: number;
  widths: readonly [number, number, number, number];
  /** Model name written into the manifest. */
  name: string;
  quiet?: boolean;
}

export const DEFAULT_TRAIN: Omit<TrainOptions, "out" | "name" | "world"> = {
  seed: 1,
  epochs: 8,
  perClass: 500,
  valPerClass: 100,
  batchSize: 32,
  learningRate: 3e-3,
  widths: DEFAULT_WIDTHS,
};

export interface TrainResult {
  valAccuracy: number;
  perClassAccuracy: Record<string, number>;
  epochs: { epoch: number; loss: number; valAccuracy: number; seconds: number }[];
  seconds: number;
  weightBytes: number;
  backend: string;
}

/** Learning rate at step t of T: linear warm-up over the first 10%, then cosine decay to 0. */
export function learningRateAt(t: number, total: number, peak: number): number {
  const warm = Math.max(1, Math.floor(total * 0.1));
  if (t < warm) return (peak * (t + 1)) / warm;
  const p = (t - warm) / Math.max(1, total - warm);
  return peak * 0.5 * (1 + Math.cos(Math.PI * p));
}

function world(o: Pick<TrainOptions, "world">): WorldOptions {
  return { ...DEFAULT_WORLD, ...o.world };
}

export function validationScenes(o: Pick<TrainOptions, "seed" | "valPerClass" | "world">): Scene[] {
  const scenes: Scene[] = [];
  CLASSES.forEach((c) => {
    for (let i = 0; i < o.valPerClass; i++) scenes.push(drawScene(c, deriveSeed(o.seed, "val", c, i), world(o)));
  });
  return scenes;
}

export function evaluate(
  model: tf.LayersModel,
  scenes: readonly Scene[],
): { accuracy: number; perClass: Record<string, number> } {
  const logits = predictLogits(model, scenes);
  const hits: Record<string, [number, number]> = {};
  logits.forEach((row, i) => {
    const c = scenes[i]!.className;
    const h = (hits[c] ??= [0, 0]);
    h[1]++;
    if (CLASSES[argmax(row)] === c) h[0]++;
  });
  const perClass: Record<string, number> = {};
  let ok = 0;
  for (const [c, [k, n]] of Object.entries(hits)) {
    perClass[c] = k / n;
    ok += k;
  }
  return { accuracy: ok / scenes.length, perClass };
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const backend = await initBackend();
  if (backend.name === "wasm") registerWasmTrainingKernels();
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(`${s}\n`);
  };
  log(`backend: ${backend.name} (${backend.detail})`);
  const size = DEFAULT_WORLD.size;
  const model = buildResNet({ classes: CLASSES.length, inputSize: size, widths: opts.widths, seed: opts.seed });
  const optimizer = tf.train.adam(opts.learningRate);
  model.compile({
    optimizer,
    loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred),
  });
  const perEpoch = opts.perClass * CLASSES.length;
  const stepsPerEpoch = Math.floor(perEpoch / opts.batchSize);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const val = validationScenes(opts);
  const start = Date.now();
  const epochs: TrainResult["epochs"] = [];
  let step = 0;
  const imageLen = size * size * 3;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const t0 = Date.now();
    // this epoch's scenes, rendered up front (bytes), then visited in a seeded order
    const labels = new Int32Array(perEpoch);
    const pixels = new Uint8Array(perEpoch * imageLen);
    let k = 0;
    CLASSES.forEach((c, ci) => {
      for (let i = 0; i < opts.perClass; i++, k++) {
        pixels.set(
          renderScene(drawScene(c, deriveSeed(opts.seed, "train", epoch, c, i), world(opts))).pixels,
          k * imageLen,
        );
        labels[k] = ci;
      }
    });
    const order = new Rng(deriveSeed(opts.seed, "order", epoch)).permutation(perEpoch);
    const bar = opts.quiet ? null : createProgressBar(`epoch ${epoch + 1}/${opts.epochs}`, stepsPerEpoch);
    let lossSum = 0;
    for (let b = 0; b < stepsPerEpoch; b++, step++) {
      (optimizer as unknown as { learningRate: number }).learningRate = learningRateAt(
        step,
        totalSteps,
        opts.learningRate,
      );
      const xs = new Float32Array(opts.batchSize * imageLen);
      const ys = new Float32Array(opts.batchSize * CLASSES.length);
      for (let j = 0; j < opts.batchSize; j++) {
        const idx = order[b * opts.batchSize + j]!;
        normalizeInto(pixels.subarray(idx * imageLen, (idx + 1) * imageLen), xs, j);
        ys[j * CLASSES.length + labels[idx]!] = 1;
      }
      const x = tf.tensor4d(xs, [opts.batchSize, size, size, 3]);
      const y = tf.tensor2d(ys, [opts.batchSize, CLASSES.length]);
      const loss = (await model.trainOnBatch(x, y)) as number;
      x.dispose();
      y.dispose();
      lossSum += loss;
      bar?.tick(1, `loss ${(lossSum / (b + 1)).toFixed(3)}`);
    }
    const { accuracy } = evaluate(model, val);
    const seconds = (Date.now() - t0) / 1000;
    bar?.done(`loss ${(lossSum / stepsPerEpoch).toFixed(3)} val acc ${accuracy.toFixed(3)}`);
    epochs.push({ epoch: epoch + 1, loss: lossSum / stepsPerEpoch, valAccuracy: accuracy, seconds });
  }
  const seconds = (Date.now() - start) / 1000;
  const final = evaluate(model, val);
  const weightBytes = await saveLayersModel(model, opts.out);
  const manifest = {
    name: opts.name,
    format: "tfjs-layers",
    file: MODEL_FILE,
    input: { size, layout: "NHWC", scale: 255, mean: IMAGENET_MEAN, std: IMAGENET_STD },
    classes: [...CLASSES],
    layers: resnetLayerNames().map((name) => ({ name, tensor: name })),
  };
  writeFileSync(join(opts.out, "manifest.json"), `${JSON.stringify(manifest, null, 1)}\n`);
  const result: TrainResult = {
    valAccuracy: final.accuracy,
    perClassAccuracy: final.perClass,
    epochs,
    seconds,
    weightBytes,
    backend: `${backend.name} (${backend.detail})`,
  };
  const record = {
    seed: opts.seed,
    world: { cueClass: CUE_CLASS, cuePart: CUE_PART, ...worldDefinition(world(opts)) },
    architecture: { kind: "resnet (torchvision-style BasicBlocks)", widths: opts.widths, params: model.countParams() },
    training: {
      epochs: opts.epochs,
      scenesPerClassPerEpoch: opts.perClass,
      batchSize: opts.batchSize,
      optimizer: "adam",
      peakLearningRate: opts.learningRate,
      schedule: "linear warm-up 10%, cosine decay",
    },
    heldOut: { scenesPerClass: opts.valPerClass, accuracy: final.accuracy, perClass: final.perClass },
    epochs,
    trainingSeconds: seconds,
    weightBytes,
    backend: result.backend,
    command: `npm run toyworld -- train --out ${relative(process.cwd(), opts.out) || "."} --seed ${opts.seed} ${worldFlags(world(opts))} --epochs ${opts.epochs} --per-class ${opts.perClass}`,
  };
  writeFileSync(join(opts.out, "training.json"), `${JSON.stringify(record, null, 1)}\n`);
  model.dispose();
  return result;
}
