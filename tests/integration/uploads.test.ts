/** Model and dataset uploads: what is accepted, every rejection, and nothing half-written left behind. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count, eq } from "drizzle-orm";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { datasets, images, jobs, models } from "~/db/schema";
import { limits } from "~/server/storage/limits";
import { validateModelHandler } from "~/server/jobs/handlers/validateModelJob";
import { Worker } from "~/server/jobs/worker";
import {
  datasetForm,
  file,
  FIXTURE,
  FIXTURE_IMAGES,
  fixtureZipEntries,
  makeZip,
  modelForm,
  pngHeaderOnly,
} from "../helpers/fixtures";
import { syntheticCircuit } from "../helpers/syntheticCircuit";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset } from "../helpers/viewerSeed";

let env: TestEnv;
let modelId: number;
beforeAll(async () => {
  env = await makeEnv();
});
afterAll(() => env.close());

const ls = (d: string) => (existsSync(d) ? readdirSync(d) : []);
/** Nothing left in tmp, and the final folders are exactly those the DB knows. */
function assertClean() {
  expect(ls(join(env.storageRoot, "tmp"))).toStrictEqual([]);
  const dsDirs = env.db
    .select({ dir: datasets.dir })
    .from(datasets)
    .all()
    .map((d) => d.dir.split("/").pop());
  expect(ls(join(env.storageRoot, "datasets")).sort()).toStrictEqual(
    dsDirs.filter((d) => ls(join(env.storageRoot, "datasets")).includes(d!)).sort(),
  );
  const mDirs = env.db
    .select({ dir: models.dir })
    .from(models)
    .all()
    .map((d) => d.dir.split("/").pop());
  expect(ls(join(env.storageRoot, "models")).sort()).toStrictEqual(mDirs.sort());
}
const datasetCount = () => env.db.select({ n: count() }).from(datasets).get()!.n;
const modelCount = () => env.db.select({ n: count() }).from(models).get()!.n;

describe("model upload", () => {
  it("accepts ONNX + manifest, stores it, queues the load check", async () => {
    const r = await env.as.annotator.models.upload(modelForm({ name: "toy" }));
    modelId = r.id;
    expect(r).toMatchObject({ name: "toy", status: "validating" });
    const m = env.db.select().from(models).where(eq(models.id, r.id)).get()!;
    expect(readFileSync(m.filePath).equals(readFileSync(join(FIXTURE, "toynet.onnx")))).toBe(true);
    expect(JSON.parse(readFileSync(m.manifestPath, "utf8")).file).toBe("model.onnx");
    expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(env.db.select().from(jobs).where(eq(jobs.id, r.jobId)).get()).toMatchObject({
      kind: "validateModel",
      status: "queued",
    });
    const detail = await env.as.viewer.models.get({ id: r.id });
    expect(detail.classes).toStrictEqual(["bee", "ladybug", "fish", "sun", "tree", "car"]);
    expect(detail.layers[0]).toBe("fc");
    assertClean();
  });

  it("the worker's load check marks the model ready, or invalid with the loader's error", async () => {
    const ok = new Worker({
      queue: env.queue,
      handlers: { validateModel: validateModelHandler(env.db, async () => async () => "fine") },
    });
    expect(await ok.runOnce()).toMatchObject({ status: "succeeded" });
    expect(env.db.select().from(models).where(eq(models.id, modelId)).get()).toMatchObject({
      status: "ready",
      statusMessage: "fine",
    });
    const second = await env.as.annotator.models.upload(modelForm({ name: "broken" }));
    const bad = new Worker({
      queue: env.queue,
      handlers: {
        validateModel: validateModelHandler(env.db, async () => async () => {
          throw new Error("layer 'fc' names no tensor");
        }),
      },
    });
    expect(await bad.runOnce()).toMatchObject({ status: "failed" });
    expect(env.db.select().from(models).where(eq(models.id, second.id)).get()).toMatchObject({
      status: "invalid",
      statusMessage: expect.stringContaining("layer 'fc' names no tensor"),
    });
    await expect(
      env.as.annotator.runs.start({
        modelId: second.id,
        datasetId: 1,
        className: "bee",
        layers: ["fc", "layer4.1"],
        tau: 2,
        k: 5,
        igSteps: 4,
      }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("failed its load check") });
    // the loader's message names stored paths; the user sees the model's own file names
    const third = await env.as.annotator.models.upload(modelForm({ name: "broken too" }));
    const dir = env.db.select().from(models).where(eq(models.id, third.id)).get()!.dir;
    const pathy = new Worker({
      queue: env.queue,
      handlers: {
        validateModel: validateModelHandler(env.db, async () => async () => {
          throw new Error(`${dir}/manifest.json: layer "fc" names no tensor of ${dir}/model.onnx`);
        }),
      },
    });
    expect(await pathy.runOnce()).toMatchObject({ status: "failed" });
    const message = env.db.select().from(models).where(eq(models.id, third.id)).get()!.statusMessage!;
    expect(message).toContain('manifest.json: layer "fc" names no tensor of model.onnx');
    expect(message).not.toContain(env.storageRoot);
  });

  const manifest = () => JSON.parse(readFileSync(join(FIXTURE, "manifest.json"), "utf8"));
  /** A Keras topology with a layer per manifest tensor, the logits a 6-unit Dense (the fixture's classes). */
  const topology = () => ({
    class_name: "Sequential",
    config: {
      name: "m",
      layers: [
        ...manifest()
          .layers.filter((l: { tensor: string }) => l.tensor !== "logits")
          .map((l: { tensor: string }) => ({
            class_name: "Activation",
            config: { name: l.tensor, activation: "relu" },
          })),
        { class_name: "Dense", config: { name: "logits", units: 6 } },
      ],
    },
  });
  /** A TF.js upload whose model.json names `paths` (one [2, 3] float32 weight) and the given weight files. */
  const tfjsForm = (paths: string[], weights: [string, number][]) => {
    const f = new FormData();
    f.set(
      "manifest",
      file(JSON.stringify({ ...manifest(), format: "tfjs-layers", file: "model.json" }), "manifest.json"),
    );
    f.set(
      "modelJson",
      file(
        JSON.stringify({
          modelTopology: topology(),
          weightsManifest: [{ paths, weights: [{ name: "w", shape: [2, 3], dtype: "float32" }] }],
        }),
        "model.json",
      ),
    );
    for (const [name, bytes] of weights) f.append("weights", file(Buffer.alloc(bytes), name));
    return f;
  };
  const rejects: [string, () => FormData, string][] = [
    ["manifest not JSON", () => modelForm({ manifest: "{nope" }), "not valid JSON"],
    ["manifest missing classes", () => modelForm({ manifest: { ...manifest(), classes: undefined } }), "classes"],
    ["format mismatch", () => modelForm({ manifest: { ...manifest(), format: "tfjs-layers" } }), "format"],
    ["not an ONNX file", () => modelForm({ onnx: Buffer.from("hello, I am a text file") }), "not an ONNX model"],
    ["empty ONNX file", () => modelForm({ onnx: Buffer.alloc(0) }), "empty"],
    [
      "no model file",
      () => {
        const f = modelForm();
        f.delete("onnx");
        return f;
      },
      "no model file",
    ],
    [
      "no manifest",
      () => {
        const f = modelForm();
        f.delete("manifest");
        return f;
      },
      'field "manifest"',
    ],
    [
      "TF.js model missing a weight file",
      () => {
        const f = new FormData();
        f.set(
          "manifest",
          file(JSON.stringify({ ...manifest(), format: "tfjs-layers", file: "model.json" }), "manifest.json"),
        );
        f.set(
          "modelJson",
          file(
            JSON.stringify({
              modelTopology: {},
              weightsManifest: [
                { paths: ["group1-shard1of1.bin"], weights: [{ name: "w", shape: [2], dtype: "float32" }] },
              ],
            }),
            "model.json",
          ),
        );
        return f;
      },
      "group1-shard1of1.bin",
    ],
    [
      "TF.js weights of the wrong size",
      () => {
        const f = new FormData();
        f.set(
          "manifest",
          file(JSON.stringify({ ...manifest(), format: "tfjs-layers", file: "model.json" }), "manifest.json"),
        );
        f.set(
          "modelJson",
          file(
            JSON.stringify({
              modelTopology: {},
              weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "w", shape: [2], dtype: "float32" }] }],
            }),
            "model.json",
          ),
        );
        f.append("weights", file(Buffer.alloc(7), "w.bin"));
        return f;
      },
      "describes 8",
    ],
    [
      "TF.js weight path with a folder",
      () => {
        const f = new FormData();
        f.set(
          "manifest",
          file(JSON.stringify({ ...manifest(), format: "tfjs-layers", file: "model.json" }), "manifest.json"),
        );
        f.set(
          "modelJson",
          file(
            JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ["../w.bin"], weights: [] }] }),
            "model.json",
          ),
        );
        return f;
      },
      "plain file names",
    ],
    ...(["manifest.json", "model.json"] as const).map((name): [string, () => FormData, string] => [
      `TF.js weight file named ${name}`,
      () => tfjsForm([name], [[name, 24]]),
      "reserved",
    ]),
    [
      "TF.js weight file uploaded twice",
      () =>
        tfjsForm(
          ["w.bin"],
          [
            ["w.bin", 24],
            ["w.bin", 24],
          ],
        ),
      "uploaded twice",
    ],
    [
      "a garbage TF.js topology",
      () => {
        const f = tfjsForm(["w.bin"], [["w.bin", 24]]);
        f.set(
          "modelJson",
          file(
            JSON.stringify({
              modelTopology: { config: {} },
              weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "w", shape: [2, 3], dtype: "float32" }] }],
            }),
            "model.json",
          ),
        );
        return f;
      },
      "not a Keras layers model",
    ],
    [
      "a TF.js topology with 4 logits for 6 classes",
      () => {
        const t = topology();
        t.config.layers.at(-1)!.config = { name: "logits", units: 4 } as never;
        const f = tfjsForm(["w.bin"], [["w.bin", 24]]);
        f.set(
          "modelJson",
          file(
            JSON.stringify({
              modelTopology: t,
              weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "w", shape: [2, 3], dtype: "float32" }] }],
            }),
            "model.json",
          ),
        );
        return f;
      },
      "has 4 logits but the manifest lists 6 classes",
    ],
  ];
  for (const [what, form, message] of rejects)
    it(`rejects: ${what}`, async () => {
      const n = modelCount();
      await expect(env.as.annotator.models.upload(form())).rejects.toMatchObject({
        code: "BAD_REQUEST",
        message: expect.stringContaining(message),
      });
      expect(modelCount()).toBe(n);
      assertClean();
    });

  it("accepts a TF.js layers model with its weights", async () => {
    const f = new FormData();
    f.set(
      "manifest",
      file(JSON.stringify({ ...manifest(), format: "tfjs-layers", file: "whatever.json" }), "manifest.json"),
    );
    f.set(
      "modelJson",
      file(
        JSON.stringify({
          modelTopology: topology(),
          weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "w", shape: [2, 3], dtype: "float32" }] }],
        }),
        "model.json",
      ),
    );
    f.append("weights", file(Buffer.alloc(24), "w.bin"));
    const r = await env.as.annotator.models.upload(f);
    const m = env.db.select().from(models).where(eq(models.id, r.id)).get()!;
    expect(m.format).toBe("tfjs-layers");
    expect(readdirSync(m.dir).sort()).toStrictEqual(["manifest.json", "model.json", "w.bin"]);
    await env.as.admin.models.delete({ id: r.id });
    expect(existsSync(m.dir)).toBe(false);
    assertClean();
  });

  it("accepts weight paths written as ./name (tfjs-node's file saver)", async () => {
    const f = new FormData();
    f.set(
      "manifest",
      file(JSON.stringify({ ...manifest(), format: "tfjs-layers", file: "model.json" }), "manifest.json"),
    );
    f.set(
      "modelJson",
      file(
        JSON.stringify({
          modelTopology: topology(),
          weightsManifest: [{ paths: ["./weights.bin"], weights: [{ name: "w", shape: [2, 3], dtype: "float32" }] }],
        }),
        "model.json",
      ),
    );
    f.append("weights", file(Buffer.alloc(24), "weights.bin"));
    const r = await env.as.annotator.models.upload(f);
    const m = env.db.select().from(models).where(eq(models.id, r.id)).get()!;
    expect(readdirSync(m.dir).sort()).toStrictEqual(["manifest.json", "model.json", "weights.bin"]);
    await env.as.admin.models.delete({ id: r.id });
    assertClean();
  });
});

describe("dataset upload", () => {
  it("accepts a zip with one folder per class (also wrapped in a top folder)", async () => {
    const r = await env.as.annotator.datasets.uploadZip(
      datasetForm(makeZip(fixtureZipEntries(["bee", "car"], 4)), "bees and cars", modelId),
    );
    expect(r).toMatchObject({ classes: ["bee", "car"], imageCount: 8 });
    const d = await env.as.viewer.datasets.get({ id: r.id });
    expect(d.classes).toStrictEqual([
      { className: "bee", images: 4, minSide: 64 },
      { className: "car", images: 4, minSide: 64 },
    ]);
    const wrapped = await env.as.annotator.datasets.uploadZip(
      datasetForm(makeZip(fixtureZipEntries(["fish"], 2, "toy/")), "wrapped"),
    );
    expect(wrapped.classes).toStrictEqual(["fish"]);
    const row = env.db.select().from(datasets).where(eq(datasets.id, wrapped.id)).get()!;
    expect(readdirSync(join(row.dir, "fish")).sort()).toStrictEqual(["000.png", "001.png"]);
    assertClean();
  });

  const png = (side: number) =>
    sharp({ create: { width: side, height: side, channels: 3, background: "#f00" } })
      .png()
      .toBuffer();
  const bee = readFileSync(join(FIXTURE_IMAGES, "bee", "000.png"));
  const cases: [string, () => Promise<FormData>, string][] = [
    ["zip-slip with ..", async () => datasetForm(makeZip([{ name: "bee/../../evil.png", data: bee }])), "escapes"],
    ["absolute path", async () => datasetForm(makeZip([{ name: "/etc/evil.png", data: bee }])), "absolute path"],
    ["backslash path", async () => datasetForm(makeZip([{ name: "bee\\..\\evil.png", data: bee }])), "unsafe path"],
    [
      "zip bomb (ratio)",
      async () => datasetForm(makeZip([{ name: "bee/bomb.png", data: Buffer.alloc(20_000_000) }])),
      "zip bomb",
    ],
    [
      "lying header (inflates past its declared size)",
      async () =>
        datasetForm(
          makeZip([{ name: "bee/a.png", data: Buffer.concat([bee, Buffer.alloc(100)]), declaredSize: bee.length }]),
        ),
      "declared size",
    ],
    ["not a zip", async () => datasetForm(Buffer.from("this is not a zip at all, sorry")), "not a zip"],
    [
      "non-image file",
      async () =>
        datasetForm(makeZip([...fixtureZipEntries(["bee"], 1), { name: "bee/notes.txt", data: Buffer.from("hi") }])),
      "not an image file",
    ],
    [
      "garbage with an image name",
      async () => datasetForm(makeZip([{ name: "bee/x.png", data: Buffer.from("not really a png") }])),
      "not an image",
    ],
    [
      "truncated image",
      async () => datasetForm(makeZip([{ name: "bee/t.png", data: bee.subarray(0, bee.length - 40) }])),
      "bee/t.png",
    ],
    [
      "image smaller than the model input",
      async () => datasetForm(makeZip([{ name: "bee/small.png", data: await png(32) }]), "x", modelId),
      "too small",
    ],
    [
      "class not in the model",
      async () =>
        datasetForm(
          makeZip(fixtureZipEntries(["bee"], 1).map((e) => ({ ...e, name: e.name.replace("bee", "wasp") }))),
          "x",
          modelId,
        ),
      'folder "wasp" is not a class',
    ],
    [
      "images at the top level",
      async () => datasetForm(makeZip([{ name: "a.png", data: bee }])),
      "expected <class>/<image>",
    ],
    [
      "nested folders",
      async () =>
        datasetForm(
          makeZip([
            { name: "a/b/c/d.png", data: bee },
            { name: "x/y.png", data: bee },
          ]),
        ),
      "expected <class>/<image>",
    ],
    ["empty zip", async () => datasetForm(makeZip([])), "no images"],
    [
      "image file name longer than file systems allow",
      async () => datasetForm(makeZip([{ name: `bee/${"a".repeat(300)}.png`, data: bee }])),
      "names of 1 to 200 bytes",
    ],
    [
      "class folder name longer than file systems allow",
      async () => datasetForm(makeZip([{ name: `${"c".repeat(300)}/a.png`, data: bee }])),
      "the class folder name has 300 bytes",
    ],
    [
      "class folder name with a control character",
      async () => datasetForm(makeZip([{ name: "be\u0007e/a.png", data: bee }])),
      "control character",
    ],
    [
      "missing name",
      async () => {
        const f = datasetForm(makeZip(fixtureZipEntries(["bee"], 1)));
        f.delete("name");
        return f;
      },
      "name",
    ],
    ["unknown model", async () => datasetForm(makeZip(fixtureZipEntries(["bee"], 1)), "x", 9999), "no model 9999"],
  ];
  for (const [what, form, message] of cases)
    it(`rejects: ${what}`, async () => {
      const n = datasetCount();
      const imgs = env.db.select({ n: count() }).from(images).get()!.n;
      await expect(env.as.annotator.datasets.uploadZip(await form())).rejects.toMatchObject({
        message: expect.stringContaining(message),
      });
      expect(datasetCount()).toBe(n);
      expect(env.db.select({ n: count() }).from(images).get()!.n).toBe(imgs);
      assertClean();
    });

  it("refuses a second dataset of the same name, keeping the first and leaving no files", async () => {
    const n = datasetCount();
    await expect(
      env.as.annotator.datasets.uploadZip(datasetForm(makeZip(fixtureZipEntries(["bee"], 1)), "bees and cars")),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining('a dataset named "bees and cars" exists already'),
    });
    expect(datasetCount()).toBe(n);
    assertClean();
  });

  it("registers a server folder (admin), read in place, and validates the path", async () => {
    const r = await env.as.admin.datasets.registerFolder({ name: "fixture", path: FIXTURE_IMAGES, modelId });
    expect(r.classes).toStrictEqual(["bee", "car", "fish", "ladybug", "sun", "tree"]);
    expect(r.imageCount).toBe(96);
    await expect(env.as.admin.datasets.registerFolder({ name: "rel", path: "tests/fixtures" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("absolute"),
    });
    await expect(
      env.as.admin.datasets.registerFolder({ name: "none", path: "/nonexistent/folder" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("does not exist") });
    await expect(env.as.admin.datasets.registerFolder({ name: "flat", path: FIXTURE })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(env.as.annotator.datasets.registerFolder({ name: "x", path: FIXTURE_IMAGES })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    // deleting a registered folder never deletes the folder itself
    await env.as.admin.datasets.delete({ id: r.id });
    expect(existsSync(join(FIXTURE_IMAGES, "bee", "000.png"))).toBe(true);
  });

  it("keeps server folders inside NEURFLOW_DATASET_ROOTS by their real paths", async () => {
    const allowed = join(env.dir, "allowed");
    mkdirSync(join(allowed, "ds", "bee"), { recursive: true });
    for (const f of ["000.png", "001.png"]) copyFileSync(join(FIXTURE_IMAGES, "bee", f), join(allowed, "ds", "bee", f));
    symlinkSync(join(FIXTURE_IMAGES, ".."), join(allowed, "link")); // leads out of the root
    symlinkSync(join(allowed, "ds"), join(allowed, "alias")); // stays inside it
    process.env.NEURFLOW_DATASET_ROOTS = allowed;
    try {
      const n = datasetCount();
      for (const path of [FIXTURE_IMAGES, join(allowed, "link", "images"), join(allowed, "ds", "..", "..")])
        await expect(env.as.admin.datasets.registerFolder({ name: "out", path })).rejects.toMatchObject({
          code: "BAD_REQUEST",
          message: expect.stringContaining("outside the allowed dataset folders"),
        });
      expect(datasetCount()).toBe(n);
      const inside = await env.as.admin.datasets.registerFolder({ name: "inside", path: join(allowed, "alias") });
      expect(inside).toMatchObject({ classes: ["bee"], imageCount: 2 });
      expect(env.db.select().from(datasets).where(eq(datasets.id, inside.id)).get()!.dir).toBe(
        realpathSync(join(allowed, "ds")),
      );
    } finally {
      delete process.env.NEURFLOW_DATASET_ROOTS;
    }
  });
});

describe("the per-image pixel budget (NEURFLOW_MAX_IMAGE_PIXELS)", () => {
  // 200² pixels: a 300×300 image has sides within 8–4096 px, so only the pixel budget refuses it.
  // The images are header-only PNGs (pixel data garbage): a decode of either would fail as corrupt,
  // so a refusal that names the budget was made from the headers, before any decode; the small
  // corrupt one comes first, so checking each image's header and decoding it in turn would fail on it.
  const saved = limits.imagePixels;
  let circuitId = 0;
  beforeAll(async () => {
    limits.imagePixels = 200 * 200;
    circuitId = seedCircuit(env.db, await seedModelAndDataset(env.as.admin), syntheticCircuit({ seed: 5 })).circuitId;
  });
  afterAll(() => {
    limits.imagePixels = saved;
  });
  const budgetMessage = /big\.png"?: 300×300 has 90000 pixels; at most 40000 per image \(NEURFLOW_MAX_IMAGE_PIXELS\)/;

  it("refuses one oversize image in a dataset zip from its header, before decoding any, storing nothing", async () => {
    const n = datasetCount();
    const zip = makeZip([
      ...fixtureZipEntries(["bee"], 2),
      { name: "bee/corrupt.png", data: pngHeaderOnly(64) },
      { name: "bee/big.png", data: pngHeaderOnly(300) },
    ]);
    const refused = await env.as.annotator.datasets.uploadZip(datasetForm(zip, "one too big")).then(
      () => null,
      (e: { code: string; message: string }) => e,
    );
    expect(refused).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(budgetMessage) });
    expect(refused!.message).not.toMatch(/corrupt|decod/);
    expect(datasetCount()).toBe(n);
    assertClean();
  });

  it("refuses one oversize image of an image-debugging upload from its header, before decoding any, storing nothing", async () => {
    const jobsBefore = env.db.select({ n: count() }).from(jobs).get()!.n;
    const form = new FormData();
    form.set("circuitId", String(circuitId));
    form.set("layerIndex", "1");
    form.append("images", file(readFileSync(join(FIXTURE_IMAGES, "bee", "000.png")), "ok.png"));
    form.append("images", file(pngHeaderOnly(64), "corrupt.png"));
    form.append("images", file(pngHeaderOnly(300), "big.png"));
    const refused = await env.as.annotator.evaluations.startImageDebug(form).then(
      () => null,
      (e: { code: string; message: string }) => e,
    );
    expect(refused).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(budgetMessage) });
    expect(refused!.message).not.toMatch(/corrupt|decod/);
    expect(env.db.select({ n: count() }).from(jobs).get()!.n).toBe(jobsBefore);
    expect(ls(join(env.storageRoot, "evaluations"))).toStrictEqual([]);
    assertClean();
  });
});
