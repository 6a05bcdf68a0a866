/**
 * The ONNX importer on a subset of the ONNX project's backend node tests (tests/fixtures/onnx-node,
 * see its README): every output compared with onnx's expected output at onnx's tolerances, every
 * refusal by its message. The whole set runs with `npx tsx bench/onnxConformance.ts DIR`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { onnx as OnnxNs } from "onnx-proto";
import { beforeAll, describe, expect, test } from "vitest";
import { compareOutput, runCase } from "../../bench/onnxConformanceCase";
import { initBackend } from "../../server/neurflow/backend";
import { importOnnx } from "../../server/neurflow/model/onnx/importOnnx";

const DIR = new URL("../fixtures/onnx-node/", import.meta.url).pathname;
const { onnx } = createRequire(import.meta.url)("onnx-proto") as { onnx: typeof OnnxNs };

/** Cases that must match onnx's outputs, with what each covers. */
const PASSING: Record<string, string> = {
  test_layer_normalization_default_axis_expanded:
    "LayerNormalization's expanded form: Neg of a constant folds on the host (it crashed in ConstantOfShape)",
  test_dropout_default_mask: "Dropout at inference, with its all-true mask output (it was refused)",
  test_training_dropout_zero_ratio_mask: "Dropout in training mode with ratio 0 is the identity",
  test_batchnorm_epsilon: "BatchNormalization with epsilon",
  test_conv_with_strides_and_asymmetric_padding: "Conv, strides and asymmetric pads",
  test_conv_with_autopad_same: "Conv, auto_pad SAME_LOWER with strides",
  test_maxpool_2d_ceil: "MaxPool, ceil_mode",
  test_maxpool_2d_precomputed_same_upper: "MaxPool, auto_pad SAME_UPPER with strides",
  test_averagepool_2d_precomputed_pads_count_include_pad: "AveragePool, pads counted",
  test_averagepool_2d_precomputed_same_upper: "AveragePool, auto_pad SAME_UPPER (pads not counted)",
  test_globalaveragepool: "GlobalAveragePool",
  test_gemm_all_attributes: "Gemm, transA, transB, alpha, beta",
  test_gemm_transposeA: "Gemm, transA",
  test_matmul_4d: "MatMul of 4-D tensors",
  test_relu: "Relu",
  test_clip: "Clip, bounds as inputs",
  test_leakyrelu: "LeakyRelu",
  test_hardsigmoid: "HardSigmoid",
  test_hardswish: "HardSwish",
  test_softmax_large_number: "Softmax of inputs near 10⁴",
  test_logsoftmax_large_number: "LogSoftmax of inputs near 10⁴",
  test_concat_3d_axis_negative_2: "Concat, negative axis",
  test_reshape_negative_extended_dims: "Reshape with -1 to a higher rank",
  test_flatten_negative_axis1: "Flatten, negative axis",
  test_constant_pad: "Pad, constant mode with a value",
  test_cast_BFLOAT16_to_FLOAT: "Cast from BFLOAT16 (the data's UINT16 bit patterns relabelled)",
  test_transpose_all_permutations_4: "Transpose",
  test_slice_neg_steps: "Slice, negative steps",
  test_gather_1: "Gather, axis 1",
  test_unsqueeze_unsorted_axes: "Unsqueeze, unsorted axes",
  test_reduce_mean_do_not_keepdims_random: "ReduceMean without keepdims",
  test_shape_start_1_end_negative_1: "Shape, start and end",
};

/** Cases the importer must refuse at load time, by these messages. */
const REFUSED: Record<string, RegExp> = {
  test_training_dropout:
    /Dropout node "Dropout_0": Dropout in training mode is not supported \(training_mode is true, ratio 0\.75\)/,
  test_batchnorm_example_training_mode:
    /BatchNormalization node "BatchNormalization_0": BatchNormalization in training mode \(training_mode = 1\) is not supported/,
  test_maxpool_2d_dilations: /MaxPool node "MaxPool_0": dilated pooling is not supported/,
  test_cast_FLOAT_to_BFLOAT16: /Cast node "Cast_0": Cast to BFLOAT16 is not supported/,
  // integer division: the float32 batch the engine feeds would divide as floats
  test_div_uint8: /graph input "x" holds UINT8; the image input must be a float tensor/,
  test_identity_sequence: /graph input "x" is of sequence type; the image input must be a float tensor/,
  test_edge_pad: /graph input "x" holds INT32/,
  test_reflect_pad: /graph input "x" holds INT32/,
};

/** The case's model with its first input declared FLOAT (onnx tests Pad's modes on INT32). */
function withFloatInput(dir: string): Uint8Array {
  const m = onnx.ModelProto.decode(readFileSync(join(dir, "model.onnx")));
  m.graph!.input![0]!.type!.tensorType!.elemType = 1;
  return onnx.ModelProto.encode(m).finish();
}

beforeAll(async () => {
  await initBackend();
});

describe("ONNX backend node tests", () => {
  for (const [name, what] of Object.entries(PASSING)) {
    test(`${name}: ${what}`, () => {
      const r = runCase(join(DIR, name));
      expect(r.status, r.message).toBe("pass");
    });
  }

  for (const [name, message] of Object.entries(REFUSED)) {
    test(`${name} is refused at load time`, () => {
      const r = runCase(join(DIR, name));
      expect(r.status, r.message).toBe("refused");
      expect(r.message).toMatch(message);
    });
  }

  test("every fixture case is checked", () => {
    const folders = readdirSync(DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    expect(folders.sort()).toEqual([...Object.keys(PASSING), ...Object.keys(REFUSED)].sort());
  });

  test("Softmax and LogSoftmax of large inputs keep float32 precision (shifted by the maximum)", () => {
    // x − logSumExp(x) rounded at 10⁴: errors of 1.5e-4 and 2.4e-4, inside rtol but avoidable
    for (const name of ["test_softmax_large_number", "test_logsoftmax_large_number"]) {
      const r = runCase(join(DIR, name));
      expect(r.status).toBe("pass");
      expect(r.maxError!, name).toBeLessThan(1e-6);
    }
  });

  test("Pad's edge and reflect modes on the same data declared FLOAT", () => {
    for (const name of ["test_edge_pad", "test_reflect_pad"]) {
      const r = runCase(join(DIR, name), { model: withFloatInput(join(DIR, name)) });
      expect(r.status, `${name}: ${r.message}`).toBe("pass");
      expect(r.maxError).toBe(0);
    }
  });

  test("a wrong result fails: LeakyRelu's model against Relu's expected output", () => {
    const r = runCase(join(DIR, "test_relu"), { model: readFileSync(join(DIR, "test_leakyrelu", "model.onnx")) });
    expect(r.status).toBe("fail");
    expect(r.message).toMatch(/output "y": element \d+/);
  });
});

describe("refusals the node tests do not reach", () => {
  test("opset 6 broadcasting from an axis", () => {
    const model = onnx.ModelProto.encode({
      irVersion: 3,
      opsetImport: [{ domain: "", version: 6 }],
      graph: {
        name: "legacy",
        node: [
          {
            name: "add_axis",
            opType: "Add",
            input: ["x", "b"],
            output: ["y"],
            attribute: [
              { name: "broadcast", type: onnx.AttributeProto.AttributeType.INT, i: 1 },
              { name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 },
            ],
          },
        ],
        initializer: [{ name: "b", dims: [2], dataType: 1, floatData: [1, 2] }],
        input: [
          {
            name: "x",
            type: { tensorType: { elemType: 1, shape: { dim: [1, 2, 2, 2].map((d) => ({ dimValue: d })) } } },
          },
        ],
        output: [{ name: "y", type: { tensorType: { elemType: 1 } } }],
      },
    }).finish();
    // numpy's rule would add b along W, the last axis; opset 6 adds it along C
    expect(() => importOnnx(model)).toThrow(
      /Add node "add_axis": broadcasting from an axis \(broadcast = 1 with axis, opset < 7\) is not supported/,
    );
  });
});

describe("the comparison", () => {
  const e = { dims: [2, 2], data: [1, -2, 0, Number.NaN] };
  test("within rtol 1e-3 and atol 1e-7, NaN matching NaN", () => {
    expect(compareOutput({ dims: [2, 2], data: [1.0009, -2.0019, 5e-8, Number.NaN] }, e).ok).toBe(true);
  });
  test("outside the tolerance, a NaN against a number, or another shape", () => {
    expect(compareOutput({ dims: [2, 2], data: [1.0011, -2, 0, Number.NaN] }, e).ok).toBe(false);
    expect(compareOutput({ dims: [2, 2], data: [1, -2, 2e-7, Number.NaN] }, e).ok).toBe(false);
    expect(compareOutput({ dims: [2, 2], data: [1, -2, 0, 0] }, e).ok).toBe(false);
    expect(compareOutput({ dims: [2, 2], data: [Number.NaN, -2, 0, Number.NaN] }, e).ok).toBe(false);
    expect(compareOutput({ dims: [4], data: [1, -2, 0, Number.NaN] }, e).ok).toBe(false);
  });
});
