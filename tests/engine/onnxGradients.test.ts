/**
 * Gradients through imported ONNX graphs vs central finite differences: for every op node of the
 * block fixtures (a slice from the node's inputs to its output), and for whole models from the
 * image and from an intermediate tensor to the logits. Compared as directional derivatives along
 * random directions.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend } from "../../server/neurflow/backend";
import type { TensorGraph } from "../../server/neurflow/model/graph";
import { importOnnx } from "../../server/neurflow/model/onnx/importOnnx";
import { tf } from "../../server/neurflow/tf";
import { MODELS, modelPath, randomTensor } from "./onnxTestUtils";

const STEPS = [1e-2, 2e-3, 4e-4, 1e-4];

/**
 * Checks the directional derivative of Σ w·g(xs) along random directions ds: Σ ⟨∇, d⟩ from tf.grads
 * vs central differences Σ w·(g(x+εd) − g(x−εd)) / 2ε, summed in float64. float32 rounding favours
 * large ε, kinks (ReLU, max pooling) small ε: the best of a few step sizes must agree.
 */
function directionalError(
  g: (...xs: tf.Tensor[]) => tf.Tensor,
  w: tf.Tensor,
  xs: tf.Tensor[],
  seed: number,
): { err: number; analytic: number } {
  const ds = xs.map((x, i) => randomTensor(x.shape, seed + i));
  const f = (...a: tf.Tensor[]) => tf.sum(tf.mul(g(...a), w)) as tf.Scalar;
  const grads = tf.grads(f)(xs);
  let analytic = 0;
  let scale = 0;
  grads.forEach((gr, i) => {
    const gv = gr.dataSync();
    const dv = ds[i]!.dataSync();
    for (let k = 0; k < gv.length; k++) {
      analytic += gv[k]! * dv[k]!;
      scale += Math.abs(gv[k]! * dv[k]!);
    }
  });
  const wv = w.dataSync();
  const y0 = tf.tidy(() => g(...xs).dataSync());
  let magnitude = 0;
  for (let k = 0; k < wv.length; k++) magnitude += Math.abs(wv[k]! * y0[k]!);
  const at = (e: number) => tf.tidy(() => g(...xs.map((x, i) => tf.add(x, tf.mul(ds[i]!, e)))).dataSync());
  let err = Infinity;
  for (const eps of STEPS) {
    const yp = at(eps);
    const ym = at(-eps);
    let numeric = 0;
    for (let k = 0; k < wv.length; k++) numeric += (wv[k]! * (yp[k]! - ym[k]!)) / (2 * eps);
    // float32 rounding of the outputs, amplified by 1/2ε
    const rounding = (4e-7 * magnitude) / (2 * eps);
    err = Math.min(
      err,
      Math.max(0, Math.abs(numeric - analytic) - rounding) / Math.max(Math.abs(analytic), 0.05 * scale, 1e-6),
    );
  }
  tf.dispose([...ds, ...grads]);
  return { err, analytic };
}

function sliceFn(graph: TensorGraph, feeds: string[], out: string) {
  return (...xs: tf.Tensor[]): tf.Tensor => graph.run(Object.fromEntries(feeds.map((n, i) => [n, xs[i]!])), [out])[0]!;
}

const SHAPE_OPS = new Set([
  "Shape",
  "Gather",
  "Unsqueeze",
  "Squeeze",
  "Concat",
  "Cast",
  "Constant",
  "ConstantOfShape",
  "Slice",
  "Size",
]);
const BLOCKS = MODELS;

describe("ONNX gradients vs finite differences", () => {
  beforeAll(async () => {
    await initBackend();
  });

  for (const m of BLOCKS) {
    test(`every op node of ${m.file}`, () => {
      const graph = importOnnx(readFileSync(modelPath(m.file)));
      const produced = new Set<string>([graph.inputName, ...graph.nodes.flatMap((n) => n.outputs)]);
      const x = randomTensor([2, m.size, m.size, 3], 5, -2, 2);
      const all = [...produced];
      const values = new Map(all.map((n, i) => [n, graph.run({ [graph.inputName]: x }, all)[i]!] as const));
      const checked = new Set<string>();
      let worst = 0;
      for (const node of graph.nodes) {
        const out = node.outputs[0]!;
        const y = values.get(out)!;
        if (y.dtype !== "float32") continue;
        const feeds = [...new Set(node.inputs.filter((i) => produced.has(i) && values.get(i)!.dtype === "float32"))];
        if (feeds.length === 0) continue;
        // max-type ops: fresh random inputs, because ReLU/clip outputs tie exactly (not differentiable)
        const maxLike = /Max/.test(node.op);
        const xs = feeds.map((f, i) => (maxLike ? randomTensor(values.get(f)!.shape, 300 + i, -2, 2) : values.get(f)!));
        const w = randomTensor(y.shape, 99);
        const f = sliceFn(graph, feeds, out);
        try {
          f(...xs).dispose();
        } catch (e) {
          // e.g. Reshape reading a shape computed from an earlier tensor: not a one-node slice
          if (SHAPE_OPS.has(node.op) || /cannot compute/.test((e as Error).message)) continue;
          throw e;
        }
        const { err } = directionalError(f, w, xs, 1000 + checked.size);
        expect(err, `${m.file}: ${node.op} node "${node.name}"`).toBeLessThan(2e-2);
        worst = Math.max(worst, err);
        checked.add(node.op);
        w.dispose();
      }
      for (const op of m.ops.filter((o) => !SHAPE_OPS.has(o) && o !== "Reshape"))
        expect(checked, `${m.file} checked ${op}`).toContain(op);
      tf.dispose([x, ...values.values()]);
      graph.dispose();
    });
  }

  for (const m of MODELS) {
    test(`${m.file}: from the image and from an intermediate tensor to the output`, () => {
      const graph = importOnnx(readFileSync(modelPath(m.file)));
      const x = randomTensor([2, m.size, m.size, 3], 8, -2, 2);
      const out = graph.outputNames[0]!;
      const [y] = graph.run({ [graph.inputName]: x }, [out]);
      const w = randomTensor(y!.shape, 3);
      const fromImage = directionalError(sliceFn(graph, [graph.inputName], out), w, [x], 50);
      expect(fromImage.err, `${m.file} from the image`).toBeLessThan(2e-2);
      // the output of a node near the middle that alone determines the output
      const mid = Math.floor(graph.nodes.length / 2);
      const candidates = [...graph.nodes.slice(mid), ...graph.nodes.slice(0, mid).reverse()];
      let sliced = false;
      // (the tiny hand-made graphs end in exact ties of max pooling: not differentiable there)
      for (const node of graph.nodes.length > 8 ? candidates : []) {
        const a = node.outputs[0]!;
        const [h] = graph.run({ [graph.inputName]: x }, [a]);
        if (h!.dtype !== "float32") continue;
        const f = sliceFn(graph, [a], out);
        try {
          f(h!).dispose();
        } catch {
          continue; // a branch starts before `a`
        }
        const r = directionalError(f, w, [h!], 70);
        expect(r.err, `${m.file} from "${a}"`).toBeLessThan(2e-2);
        sliced = true;
        h!.dispose();
        break;
      }
      if (graph.nodes.length > 8) expect(sliced).toBe(true);
      tf.dispose([x, y!, w]);
      graph.dispose();
    });
  }
});
