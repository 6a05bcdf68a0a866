/**
 * The one TensorFlow.js instance the engine uses. `@tensorflow/tfjs` registers the gradients and
 * chained ops that `tfjs-core` alone does not; backends are registered by `backend.ts`.
 */
import * as tf from "@tensorflow/tfjs";

export { tf };
export type Tensor = tf.Tensor;
export type Tensor4D = tf.Tensor4D;
export type Tensor2D = tf.Tensor2D;
