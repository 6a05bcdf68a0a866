/** Slices of an imported graph: input → T and A → B equal the full forward pass; impossible slices throw. */
import { readFileSync } from "node:fs";
import { beforeAll, afterAll, describe, expect, test } from "vitest";
import { initBackend } from "../../server/neurflow/backend";
import type { TensorGraph } from "../../server/neurflow/model/graph";
import { importOnnx } from "../../server/neurflow/model/onnx/importOnnx";
import { SlicedGraph } from "../../server/neurflow/model/slicedGraph";
import { tf } from "../../server/neurflow/tf";
import { maxAbsDiff, modelPath, randomTensor } from "./onnxTestUtils";

const STEM = "/stem/stem.2/Relu_output_0";
const BLOCK1 = "/block1/relu_1/Relu_output_0";
const BLOCK1_MAIN = "/block1/conv2/Conv_output_0";
const BLOCK2 = "/block2/relu_2/Relu_output_0";

describe("slicing an ONNX graph", () => {
  let graph: TensorGraph;
  let x: tf.Tensor;
  let full: Map<string, tf.Tensor>;
  beforeAll(async () => {
    await initBackend();
    graph = importOnnx(readFileSync(modelPath("resnet_blocks")));
    x = randomTensor([2, 32, 32, 3], 21, -2, 2);
    const names = [STEM, BLOCK1, BLOCK2, "logits"];
    const outs = graph.run({ input: x }, names);
    full = new Map(names.map((n, i) => [n, outs[i]!]));
  });
  afterAll(() => {
    tf.dispose([x, ...full.values()]);
    graph.dispose();
  });

  test("input → T equals that part of the full forward pass, in NHWC", () => {
    const [t] = graph.run({ input: x }, [BLOCK1]);
    expect(t!.shape).toEqual([2, 8, 8, 16]);
    expect(maxAbsDiff(t!.dataSync(), full.get(BLOCK1)!.dataSync())).toBe(0);
    t!.dispose();
  });

  test("A → B (across residual Adds) equals the full forward pass", () => {
    const [b, l] = graph.run({ [STEM]: full.get(STEM)! }, [BLOCK2, "logits"]);
    expect(maxAbsDiff(b!.dataSync(), full.get(BLOCK2)!.dataSync())).toBeLessThan(1e-5);
    expect(maxAbsDiff(l!.dataSync(), full.get("logits")!.dataSync())).toBeLessThan(1e-5);
    const [l2] = graph.run({ [BLOCK2]: full.get(BLOCK2)! }, ["logits"]);
    expect(maxAbsDiff(l2!.dataSync(), full.get("logits")!.dataSync())).toBeLessThan(1e-5);
    tf.dispose([b!, l!, l2!]);
  });

  test("only the nodes between the feeds and the outputs run", () => {
    const g = graph as SlicedGraph<unknown>;
    const plan = g.plan([BLOCK2], ["logits"]);
    expect(plan.map((n) => n.op)).toEqual(["GlobalAveragePool", "Flatten", "Gemm"]);
    expect(g.plan(["input"], [STEM]).map((n) => n.op)).toEqual(["Conv", "BatchNormalization", "Relu"]);
    expect(g.plan(["input"], ["logits"]).length).toBe(graph.nodes.length);
  });

  test("feeding a tensor also used as an output returns a copy, and feeds are not disposed", () => {
    const a = full.get(STEM)!;
    const [same] = graph.run({ [STEM]: a }, [STEM]);
    expect(same).not.toBe(a);
    same!.dispose();
    expect(a.isDisposed).toBe(false);
    expect(a.dataSync().length).toBe(a.size);
  });

  test("a slice that needs a tensor before its feeds throws, naming it", () => {
    // block1's residual Add also reads the downsample branch, which starts at the stem
    expect(() => graph.run({ [BLOCK1_MAIN]: tf.zeros([2, 8, 8, 16]) }, [BLOCK1])).toThrow(
      /cannot compute "\/block1\/relu_1\/Relu_output_0" from the feeds \("\/block1\/conv2\/Conv_output_0"\): it needs tensor "(\/stem\/stem.2\/Relu_output_0|input)"/,
    );
    expect(() => graph.run({}, ["logits"])).toThrow(/it needs tensor "input", which is neither fed nor computable/);
  });

  test("unknown tensor names are errors", () => {
    expect(() => graph.run({ input: x }, ["nope"])).toThrow(/no tensor named "nope"/);
    expect(() => graph.run({ nope: x }, ["logits"])).toThrow(/cannot feed "nope"/);
    expect(graph.hasTensor(BLOCK1)).toBe(true);
    expect(graph.hasTensor("nope")).toBe(false);
  });

  test("graph metadata", () => {
    expect(graph.inputName).toBe("input");
    expect(graph.outputNames).toEqual(["logits"]);
    expect(graph.nodes[0]!.op).toBe("Conv");
    tf.dispose(graph.run({ input: x }, ["logits"]));
  });
});
