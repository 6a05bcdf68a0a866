/**
 * The integrated-gradients work for one target neuron: the lower layer's maps at the target's top
 * patches, IG over them, and the target's value at the zero baseline (for completeness).
 * The same function runs in-process and in worker threads, so results do not depend on where.
 */
import { computeLayerMaps } from "./activations";
import { integratedGradients, targetActivation } from "./integratedGradients";
import type { TensorGraph } from "./model/graph";
import type { Patch } from "./patches";
import type { QuadratureRule } from "./quadrature";
import { tf } from "./tf";

export interface AttributionTask {
  lowerTensor: string;
  upperTensor: string;
  target: number;
  topPatches: number[];
}

export interface AttributionResult {
  /** [topPatches × lowerChannels]: IG averaged over positions. */
  perPatch: Float32Array;
  channels: number;
  /** Σ of all attributions per top patch. */
  totals: Float64Array;
  /** The target's activation at the zero baseline. */
  f0: number;
}

export interface AttributionSettings {
  rule: QuadratureRule;
  /** Input elements per IG pass. */
  igRowElements?: number;
}

export async function attributeTarget(
  graph: TensorGraph,
  images: tf.Tensor4D,
  patches: readonly Patch[],
  task: AttributionTask,
  settings: AttributionSettings,
): Promise<AttributionResult> {
  const x = computeLayerMaps(graph, images, patches, task.topPatches, task.lowerTensor, task.topPatches.length);
  try {
    const ig = await integratedGradients(
      { graph, lowerTensor: task.lowerTensor, upperTensor: task.upperTensor },
      task.target,
      x,
      settings.rule,
      settings.igRowElements,
    );
    const f0Tensor = tf.tidy(() => {
      const zeros = tf.zeros([1, ...x.shape.slice(1)]);
      const out = graph.run({ [task.lowerTensor]: zeros }, [task.upperTensor])[0]!;
      return targetActivation(out, task.target);
    });
    const f0 = (await f0Tensor.data())[0]!;
    f0Tensor.dispose();
    return { ...ig, f0 };
  } finally {
    x.dispose();
  }
}
