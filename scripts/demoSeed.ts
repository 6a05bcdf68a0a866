/**
 * What `npm run demo` puts in the database (scripts/demo.ts does the rest: build, account, servers):
 * the demo model (models/toyworld, or the parity fixture) and the toy-world images; when the checkout
 * has them, models/toyworld5 with 16 generated world-5 scenes per class, and the cue-free controls
 * models/toyworld5-control (on the world-5 scenes) and models/toyworld-control (on the demo images);
 * and one bee run per model (class bee, τ 3, k 20, N 8, layers fc → layer3.1). Idempotent: what
 * exists is reused, a failed or canceled run is queued again. The names are `DEMO_MODELS`
 * (server/demo/story.ts), which the home page looks for.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { createCaller } from "~/server/api/root";
import { DEMO_CLASS, DEMO_DATASET, DEMO_MODELS, FLOWERS_DATASET as BIASED_DATASET } from "~/server/demo/story";

type Api = ReturnType<typeof createCaller>;

export interface DemoSeedOptions {
  /** The checkout (models/, tests/fixtures/). */
  root: string;
  /** Where generated images go (the storage root). */
  dataDir: string;
  step?: (s: string) => void;
}

export interface DemoSeeded {
  demo: { name: string; source: string };
  runId: number;
  biasedRunId: number | null;
  biasedControlRunId: number | null;
  controlRunId: number | null;
}

function paths(root: string) {
  return {
    fixture: join(root, "tests", "fixtures", "toyworld-a"),
    trained: join(root, "models", "toyworld"),
    biased: join(root, "models", "toyworld5"),
    trainedControl: join(root, "models", "toyworld-control"),
    biasedControl: join(root, "models", "toyworld5-control"),
  };
}

function file(path: string, name = path.split("/").pop()!): File {
  return new File([new Uint8Array(readFileSync(path))], name);
}

/** The upload form of a TF.js layers model folder (manifest.json, model.json, weight files). */
function layersModelForm(dir: string): FormData {
  const f = new FormData();
  f.set("manifest", file(join(dir, "manifest.json")));
  const modelJson = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as {
    weightsManifest: { paths: string[] }[];
  };
  f.set("modelJson", file(join(dir, "model.json")));
  const weights = new Set(modelJson.weightsManifest.flatMap((g) => g.paths).map((p) => p.replace(/^\.\//, "")));
  for (const w of weights) f.append("weights", file(join(dir, w)));
  return f;
}

/** The demo model's name and upload form: models/toyworld when present, else the fixture. */
function demoModel(root: string): { name: string; source: string; form: () => FormData } {
  const { trained, fixture } = paths(root);
  if (existsSync(join(trained, "manifest.json"))) {
    return {
      name: DEMO_MODELS.demo[0],
      source: "models/toyworld (TF.js layers)",
      form: () => layersModelForm(trained),
    };
  }
  return {
    name: DEMO_MODELS.demo[1],
    source: "tests/fixtures/toyworld-a (ONNX)",
    form: () => {
      const f = new FormData();
      f.set("manifest", file(join(fixture, "manifest.json")));
      f.set("onnx", file(join(fixture, "toynet.onnx")));
      return f;
    },
  };
}

export async function seedDemo(api: Api, opts: DemoSeedOptions): Promise<DemoSeeded> {
  const { root } = opts;
  const { fixture, biased, trainedControl, biasedControl } = paths(root);
  const BIASED_MODEL = DEMO_MODELS.flowers[0];
  const step = opts.step ?? (() => {});
  const demo = demoModel(root);
  let model = (await api.models.list()).find((m) => m.name === demo.name);
  if (!model) {
    step(`registering the demo model from ${demo.source}`);
    const form = demo.form();
    form.set("name", demo.name);
    const m = await api.models.upload(form);
    model = (await api.models.list()).find((x) => x.id === m.id)!;
  }

  let dataset = (await api.datasets.list()).find((d) => d.name === DEMO_DATASET);
  if (!dataset) {
    step("registering the toy-world images (tests/fixtures/toyworld-a/images, read in place)");
    const d = await api.datasets.registerFolder({
      name: DEMO_DATASET,
      path: join(fixture, "images"),
      modelId: model.id,
    });
    dataset = (await api.datasets.list()).find((x) => x.id === d.id)!;
  }

  // a run that failed or was canceled earlier is queued again; one that is queued, running or done is reused
  const demoRun = async (modelId: number, datasetId: number, what: string) => {
    const runs = await api.runs.list({ modelId });
    const reused = runs.find((r) => r.status !== "failed" && r.status !== "canceled")?.id;
    if (reused != null) return reused;
    step(`queueing ${what} (class ${DEMO_CLASS}, τ = 3, k = 20, N = 8, layers fc → layer3.1)`);
    const params = {
      className: DEMO_CLASS,
      layers: ["fc", "layer4.1", "layer4.0", "layer3.1"],
      tau: 3,
      k: 20,
      igSteps: 8,
      preset: "default" as const,
    };
    return (await api.runs.start({ modelId, datasetId, ...params })).id;
  };
  const runId = await demoRun(model.id, dataset.id, "the demo circuit");

  /** A TF.js layers model folder registered under `name` once (reused when present); its id. */
  const registerLayersModel = async (dir: string, name: string): Promise<number> => {
    const found = (await api.models.list()).find((x) => x.name === name);
    if (found) return found.id;
    step(`registering ${dir.slice(root.length + 1)} as "${name}"`);
    const form = layersModelForm(dir);
    form.set("name", name);
    return (await api.models.upload(form)).id;
  };

  // world 5: the model with a planted bias, and scenes of its own world
  let biasedRunId: number | null = null;
  let biasedControlRunId: number | null = null;
  if (existsSync(join(biased, "manifest.json"))) {
    let m = (await api.models.list()).find((x) => x.name === BIASED_MODEL);
    if (!m) {
      step("registering models/toyworld5 (flowers beside the bees)");
      const form = layersModelForm(biased);
      form.set("name", BIASED_MODEL);
      const up = await api.models.upload(form);
      m = (await api.models.list()).find((x) => x.id === up.id)!;
    }
    let d = (await api.datasets.list()).find((x) => x.name === BIASED_DATASET);
    if (!d) {
      const dir = join(opts.dataDir, "demo", "toyworld5-images");
      step(`generating 16 world-5 scenes per class into ${dir}`);
      const { generateDataset } = await import("~/server/toyworld/dataset");
      const { readWorld } = await import("~/server/toyworld/check");
      await generateDataset({ out: dir, perClass: 16, seed: 7, world: readWorld(biased), quiet: true });
      try {
        const r = await api.datasets.registerFolder({ name: BIASED_DATASET, path: dir, modelId: m.id });
        d = (await api.datasets.list()).find((x) => x.id === r.id)!;
      } catch (e) {
        // e.g. NEURFLOW_DATASET_ROOTS leaves the data folder out: the main demo goes on without it
        console.log(`  skipped: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (d) biasedRunId = await demoRun(m.id, d.id, "the world-5 circuit");
    if (d && existsSync(join(biasedControl, "manifest.json"))) {
      const c = await registerLayersModel(biasedControl, DEMO_MODELS.flowersControl[0]);
      biasedControlRunId = await demoRun(c, d.id, "the world-5 control's circuit (same images)");
    }
  }
  // world 1's control, on the demo images (only beside the trained demo model: the fixture has no control)
  let controlRunId: number | null = null;
  if (demo.name === DEMO_MODELS.demo[0] && existsSync(join(trainedControl, "manifest.json"))) {
    const c = await registerLayersModel(trainedControl, DEMO_MODELS.demoControl[0]);
    controlRunId = await demoRun(c, dataset.id, "the demo control's circuit (same images)");
  }
  return { demo: { name: demo.name, source: demo.source }, runId, biasedRunId, biasedControlRunId, controlRunId };
}
