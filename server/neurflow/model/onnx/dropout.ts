/**
 * ONNX Dropout at inference: the identity, and an all-true mask where the mask output is asked for.
 *
 * In training mode Dropout zeroes random elements and scales the others by 1/(1 − ratio); the
 * engine explains trained classifiers and does not reproduce that, so a node that would train is
 * refused at load time, by name: from opset 12 a `training_mode` input that is true (or not a
 * constant) with a ratio other than 0; before opset 7 an `is_test` attribute other than 1. Opsets
 * 7–11 have no training flag: there Dropout is the identity at inference, as in every runtime.
 */
import { tf } from "../../tf";
import { hostTensor, type HostTensor } from "./hostTensor";
import { attrInt, type OnnxNode } from "./onnxProto";
import type { OpDef } from "./ops";
import { asTensor, type Value } from "./value";

/** Throws when the node would run in training mode; `constant(i)` is input i where known at load time. */
function checkInference(node: OnnxNode, opset: number, constant: (i: number) => HostTensor | undefined): void {
  if (opset < 7) {
    if (attrInt(node, "is_test", 0) !== 1)
      throw new Error("Dropout in training mode (is_test = 0) is not supported: it drops random elements");
    return;
  }
  if (opset < 12 || !node.inputs[2]) return;
  const training = constant(2);
  if (!training)
    throw new Error("Dropout's training_mode must be a constant: Dropout in training mode is not supported");
  if (!training.data[0]) return;
  const ratio = node.inputs[1] ? constant(1) : undefined;
  if (node.inputs[1] && !ratio)
    throw new Error("Dropout in training mode is not supported (training_mode is true, the ratio is not a constant)");
  const r = ratio ? ratio.data[0]! : 0.5;
  // with ratio 0 nothing is dropped nor scaled: training mode is the identity too
  if (r !== 0)
    throw new Error(
      `Dropout in training mode is not supported (training_mode is true, ratio ${r}): it drops random elements`,
    );
}

/** The mask is bool from opset 10 on, the input's type before. */
const maskIsBool = (opset: number) => opset >= 10;

export const Dropout: OpDef = {
  host: (inputs, node, opset) => {
    checkInference(node, opset, (i) => inputs[i]);
    const x = inputs[0];
    if (!x) throw new Error("input 0 is missing");
    if (!node.outputs[1]) return [x];
    const dtype = maskIsBool(opset) ? "bool" : x.dtype;
    return [x, hostTensor(dtype, x.dims, new Uint8Array(x.data.length).fill(1))];
  },
  compile: ({ node, opset, constant }) => {
    checkInference(node, opset, constant);
    const withMask = !!node.outputs[1];
    return (inputs) => {
      const x = inputs[0];
      if (x === undefined) throw new Error(`Dropout node "${node.name}": input 0 is missing`);
      if (!withMask) return [x];
      const t = asTensor(x);
      const mask: Value = maskIsBool(opset) ? tf.cast(tf.onesLike(t), "bool") : tf.onesLike(t);
      return [x, mask];
    };
  },
};
