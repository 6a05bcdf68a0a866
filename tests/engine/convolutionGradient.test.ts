/** Strided convolutions: the phase-decomposed input gradient equals tfjs's own. */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "~/server/neurflow/backend";
import { convolution, type Pads4 } from "~/server/neurflow/model/onnx/convolution";
import { tf } from "~/server/neurflow/tf";

const cases: [kernel: number, stride: number, pads: Pads4, size: number][] = [
  [3, 2, [1, 1, 1, 1], 16],
  [1, 2, [0, 0, 0, 0], 16],
  [3, 2, [1, 1, 1, 1], 15],
  [7, 2, [3, 3, 3, 3], 32],
  [3, 2, [0, 1, 1, 0], 9],
  [3, 3, [1, 1, 1, 1], 17],
  [2, 2, [0, 0, 0, 0], 8],
];

describe("strided convolution input gradient", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it.each(cases)("kernel %i, stride %i, pads %j, size %i", (k, s, p, H) => {
    const f = tf.randomNormal([k, k, 5, 7], 0, 1, "float32", 1) as tf.Tensor4D;
    const x = tf.randomNormal([2, H, H, 5], 0, 1, "float32", 2) as tf.Tensor4D;
    const gradientKernels: tf.Tensor[] = [];
    const conv = convolution(
      "dense",
      f,
      { kernel: [k, k], strides: [s, s], dilations: [1, 1], pads: p, autoPad: "NOTSET" },
      (t) => gradientKernels.push(t),
    );
    const explicit: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [p[0], p[2]],
      [p[1], p[3]],
      [0, 0],
    ];
    const y = conv.apply(x);
    const ref = tf.conv2d(x, f, s, explicit);
    expect(y.shape).toEqual(ref.shape);
    const dy = tf.randomNormal(y.shape, 0, 1, "float32", 3);
    const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(conv.apply(t as tf.Tensor4D), dy)))(x);
    const theirs = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(t as tf.Tensor4D, f, s, explicit), dy)))(x);
    const diff = tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]!;
    const scale = tf.max(tf.abs(theirs)).dataSync()[0]!;
    expect(scale).toBeGreaterThan(0);
    expect(diff / scale).toBeLessThan(1e-5);
    tf.dispose([f, x, y, ref, dy, ours, theirs]);
    tf.dispose([...conv.weights, ...gradientKernels]);
  });
});
