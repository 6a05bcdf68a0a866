/** Bad inputs fail at load time with clear errors: corrupt files, unsupported ops, invalid graphs, bad manifests. */
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend } from "../../server/neurflow/backend";
import { loadModel } from "../../server/neurflow/model/loadModel";
import { importOnnx } from "../../server/neurflow/model/onnx/importOnnx";
import { decodeModel } from "../../server/neurflow/model/onnx/onnxProto";
import { ProtoReader } from "../../server/neurflow/model/onnx/protobuf";
import { FIXTURES, modelPath, rng } from "./onnxTestUtils";

const TOY = join(FIXTURES, "toyworld-a");

describe("protobuf reader", () => {
  test("varints, 64-bit values, packed fields", () => {
    // field 1 varint 300; field 2 varint -1 (int64); field 3 packed [1, 150]; field 4 fixed32 float 1.5; field 5 double 2.25
    const f32 = new Uint8Array(new Float32Array([1.5]).buffer);
    const f64 = new Uint8Array(new Float64Array([2.25]).buffer);
    const bytes = Uint8Array.from([
      0x08,
      0xac,
      0x02,
      0x10,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0x01,
      0x1a,
      0x03,
      0x01,
      0x96,
      0x01,
      0x25,
      ...f32,
      0x29,
      ...f64,
    ]);
    const r = new ProtoReader(bytes);
    expect(r.header()).toEqual({ field: 1, wire: 0 });
    expect(r.varint()).toBe(300);
    expect(r.header()).toEqual({ field: 2, wire: 0 });
    expect(r.int64()).toBe(-1);
    const h = r.header();
    const out: number[] = [];
    r.repeatedInt64(h.wire, out);
    expect(out).toEqual([1, 150]);
    r.header();
    expect(r.float()).toBe(1.5);
    r.header();
    expect(r.double()).toBe(2.25);
    expect(r.done).toBe(true);
  });

  test("reading past the end is an error, not a hang", () => {
    expect(() => new ProtoReader(Uint8Array.from([0x0a, 0x05, 0x01])).lengthDelimited()).toThrow(/truncated/);
    expect(() => new ProtoReader(Uint8Array.from([0xff, 0xff, 0xff])).varint()).toThrow(/truncated/);
    expect(() => new ProtoReader(Uint8Array.from(new Array(12).fill(0xff))).varint()).toThrow(/longer than 10 bytes/);
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
