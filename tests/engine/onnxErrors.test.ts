/** Bad inputs fail at load time with clear errors: corrupt files, unsupported ops, invalid graphs, bad manifests. */
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import type { onnx as OnnxNs } from "onnx-proto";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend } from "../../server/neurflow/backend";
import { loadModel } from "../../server/neurflow/model/loadModel";
import { importOnnx } from "../../server/neurflow/model/onnx/importOnnx";
import { attrFloat, attrInt, attrInts, decodeModel, decodeTensor } from "../../server/neurflow/model/onnx/onnxProto";
import { FIXTURES, modelPath, rng } from "./onnxTestUtils";

const { onnx } = onnxProto;
const TOY = join(FIXTURES, "toyworld-a");

describe("decoding with the ONNX schema", () => {
  /** A one-node model (Identity of "x") with these initializers and the node's attributes. */
  function model(initializer: OnnxNs.ITensorProto[], attribute: OnnxNs.IAttributeProto[] = []): Uint8Array {
    return onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: "", version: 13 }],
      graph: {
        name: "g",
        node: [{ opType: "Identity", input: ["x"], output: ["y"], attribute }],
        initializer,
        input: [
          { name: "x", type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "N" }, { dimValue: 3 }] } } } },
        ],
        output: [{ name: "y" }],
      },
    }).finish();
  }

  test("int64 values, raw data and typed fields, set and unset attributes", () => {
    const f32 = new Uint8Array(Float32Array.of(1.5, -2).buffer);
    const m = decodeModel(
      model(
        [
          { name: "raw", dataType: 1, dims: [2], rawData: f32 },
          { name: "floats", dataType: 1, dims: [1, 2], floatData: [0.25, 3] },
          { name: "int64s", dataType: 7, dims: [3], int64Data: [-1, 2 ** 40, 7] },
          { name: "half", dataType: 10, dims: [1], int32Data: [0x3c00] },
        ],
        [
          { name: "axis", type: 2, i: -1 },
          { name: "zero", type: 1, f: 0 },
          { name: "perm", type: 7, ints: [0, -2, 2 ** 33] },
        ],
      ),
    );
    expect(m.irVersion).toBe(8);
    expect(m.opsetImports).toEqual([{ domain: "", version: 13 }]);
    const inits = m.graph.initializers;
    expect([...inits.get("raw")!.data]).toEqual([1.5, -2]);
    expect(inits.get("floats")!.dims).toEqual([1, 2]);
    expect([...inits.get("floats")!.data]).toEqual([0.25, 3]);
    expect(inits.get("int64s")!.dtype).toBe("int64");
    expect([...inits.get("int64s")!.data]).toEqual([-1, 2 ** 40, 7]);
    expect([...inits.get("half")!.data]).toEqual([1]);
    const node = m.graph.nodes[0]!;
    expect(node.name).toBe("Identity_0");
    expect(attrInt(node, "axis")).toBe(-1);
    expect(attrFloat(node, "zero", 9)).toBe(0);
    expect(attrFloat(node, "axis")).toBeUndefined();
    expect(attrInts(node, "perm")).toEqual([0, -2, 2 ** 33]);
    expect(m.graph.inputs[0]).toEqual({ name: "x", kind: "tensor", elemType: 1, shape: ["N", 3] });
    expect(m.graph.outputs[0]).toEqual({ name: "y" });
  });

  test("raw data of the wrong size, and external data, are refused", () => {
    expect(() => decodeModel(model([{ name: "w", dataType: 1, dims: [3], rawData: new Uint8Array(8) }]))).toThrow(
      /^not an ONNX model: tensor "w" has 8 bytes of raw data, its shape \[3\] needs 12/,
    );
    const external = { name: "w", dataType: 1, dims: [1], externalData: [{ key: "location", value: "w.bin" }] };
    expect(() => decodeModel(model([external]))).toThrow(
      /^not an ONNX model: tensor "w" keeps its data in an external/,
    );
  });

  test("reading past the end, bad varints and bad wire types are errors, not hangs", () => {
    const corrupt = /^not an ONNX model: the file is truncated or corrupt \(protobuf: /;
    expect(() => decodeModel(Uint8Array.from([0x0a, 0x05, 0x01]))).toThrow(corrupt);
    expect(() => decodeModel(Uint8Array.from([0x08, 0xff, 0xff, 0xff]))).toThrow(corrupt);
    expect(() => decodeModel(Uint8Array.from([0x08, ...new Array(12).fill(0xff)]))).toThrow(corrupt);
    // field 30, wire type 7
    expect(() => decodeModel(Uint8Array.from([0xf7, 0x01, 0x00]))).toThrow(corrupt);
    expect(() => decodeTensor(Uint8Array.from([0x4a, 0x09, 0x00]))).toThrow(
      /^not an ONNX tensor: the file is truncated/,
    );
  });
});

describe("bad ONNX files", () => {
  beforeAll(async () => {
    await initBackend();
  });

  test("empty, garbage and truncated files", () => {
    expect(() => importOnnx(new Uint8Array(0))).toThrow(/^not an ONNX model: the file is empty/);
    expect(() => importOnnx(new TextEncoder().encode('{"not": "onnx"}'))).toThrow(/^not an ONNX model: /);
    const png = readFileSync(join(TOY, "images", "bee", "000.png"));
    expect(() => importOnnx(png)).toThrow(/^not an ONNX model: /);
    const good = readFileSync(join(TOY, "toynet.onnx"));
    for (const cut of [10, 1000, 100_000, good.length - 7]) {
      expect(() => importOnnx(good.subarray(0, cut)), `cut at ${cut}`).toThrow(/^not an ONNX model: /);
    }
  });

  test("random bytes never crash or hang the decoder", () => {
    const r = rng(42);
    for (let i = 0; i < 300; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(r() * 200) }, () => Math.floor(r() * 256));
      expect(() => decodeModel(bytes)).toThrow(/^not an ONNX model: /);
    }
  });

  test("an unsupported op is named with its node at load time", () => {
    expect(() => importOnnx(readFileSync(modelPath("bad_unsupported_op")))).toThrow(
      /unsupported ONNX op "LpNormalization" in node "the_lp_norm"/,
    );
  });

  test("a node reading a missing tensor", () => {
    expect(() => importOnnx(readFileSync(modelPath("bad_missing_input")))).toThrow(
      /node "add_ghost" \(Add\) reads tensor "ghost", which no node, initializer or graph input provides/,
    );
  });

  test("a tensor produced twice", () => {
    expect(() => importOnnx(readFileSync(modelPath("bad_duplicate_output")))).toThrow(
      /tensor "a" is produced twice .*"sigmoid_dup"/,
    );
  });

  test("external weight data", () => {
    expect(() => importOnnx(readFileSync(modelPath("bad_external_data")))).toThrow(
      /not an ONNX model: tensor "w" keeps its data in an external file/,
    );
  });

  test("an unknown input name", () => {
    expect(() => importOnnx(readFileSync(modelPath("dropout_gemm")), { inputName: "image" })).toThrow(
      /no graph input named "image"/,
    );
  });
});

describe("bad manifests", () => {
  function withManifest(edit: (m: Record<string, unknown>) => void): string {
    const dir = mkdtempSync(join(tmpdir(), "nf-manifest-"));
    const m = JSON.parse(readFileSync(join(TOY, "manifest.json"), "utf8")) as Record<string, unknown>;
    edit(m);
    copyFileSync(join(TOY, "toynet.onnx"), join(dir, "toynet.onnx"));
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(m));
    return join(dir, "manifest.json");
  }

  test("a layer naming a tensor that is not in the graph", async () => {
    const path = withManifest((m) => {
      (m.layers as { name: string; tensor: string }[])[2]!.tensor = "/layer1/nope/Relu_output_0";
    });
    await expect(loadModel(path)).rejects.toThrow(
      /manifest layer "layer1.1" names tensor "\/layer1\/nope\/Relu_output_0", which is not in the graph/,
    );
  });

  test("a class count that does not match the logits", async () => {
    const path = withManifest((m) => {
      m.classes = ["a", "b", "c"];
    });
    await expect(loadModel(path)).rejects.toThrow(/shape \[1,6\] for one image; the manifest lists 3 classes/);
  });

  test("a model file outside the manifest's directory", async () => {
    const path = withManifest((m) => {
      m.file = "../toynet.onnx";
    });
    await expect(loadModel(path)).rejects.toThrow(/must be inside the manifest's directory/);
  });

  test("a model file that is not ONNX", async () => {
    const path = withManifest((m) => {
      m.file = "manifest.json";
    });
    await expect(loadModel(path)).rejects.toThrow(/not an ONNX model/);
  });

  test("the manifest given as an object", async () => {
    const manifest = JSON.parse(readFileSync(join(TOY, "manifest.json"), "utf8")) as unknown;
    const model = await loadModel({ manifest, dir: TOY });
    expect(model.layerTensor("stem")).toBe("/stem/stem.2/Relu_output_0");
    model.dispose();
  });
});
