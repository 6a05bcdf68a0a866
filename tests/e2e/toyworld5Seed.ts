/**
 * The demo's planted-bias pair on a test platform: models/toyworld5 (flowers beside the bees) and
 * its cue-free control models/toyworld5-control uploaded as TF.js layers models, world-5 scenes
 * generated into the platform's folder and registered as a server-folder dataset, and bee circuits
 * computed by the engine in the test process and stored for runs on that dataset (as the demo's
 * runs would). Which groups are "flowers" is measured, not assumed: metric M of a group on whole
 * scenes of the same bees drawn with and without their flowers (AUROC), as the engine's
 * class-dependence test does.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createContext } from "~/server/api/context";
import { createCaller } from "~/server/api/root";
import { createSession, SESSION_COOKIE } from "~/server/auth/sessions";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import type { Circuit } from "~/server/neurflow/light";
import { readWorld } from "~/server/toyworld/check";
import { generateDataset } from "~/server/toyworld/dataset";
import { auroc } from "~/server/toyworld/recovery";
import { recoveryScenes, scenesInput } from "~/server/toyworld/recoveryScenes";
import { seedCircuit } from "../helpers/viewerSeed";
import { createUser, ROOT, type Platform } from "./helpers";
import { VIEWER_ADMIN } from "./viewerHelpers";

export const FLOWERS = join(ROOT, "models", "toyworld5");
export const CONTROL = join(ROOT, "models", "toyworld5-control");
/** The demo circuit's settings (scripts/demo.ts): τ 3, k 20, N 8, fc → layer3.1. */
export const DEMO_LAYERS = ["fc", "layer4.1", "layer4.0", "layer3.1"];

function file(path: string): File {
  return new File([new Uint8Array(readFileSync(path))], path.split("/").pop()!);
}

/** The upload form of a TF.js layers model folder. */
function layersModelForm(dir: string, name: string): FormData {
  const f = new FormData();
  f.set("name", name);
  f.set("manifest", file(join(dir, "manifest.json")));
  f.set("modelJson", file(join(dir, "model.json")));
  const modelJson = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as {
    weightsManifest: { paths: string[] }[];
  };
  for (const w of new Set(modelJson.weightsManifest.flatMap((g) => g.paths).map((p) => p.replace(/^\.\//, ""))))
    f.append("weights", file(join(dir, w)));
  return f;
}

export type Caller = ReturnType<typeof createCaller>;

export interface Toyworld5Platform {
  admin: Caller;
  userId: number;
  flowersModel: number;
  controlModel: number;
  /** The world-5 scenes (`<dir>/<class>/<i>.png`) and their dataset. */
  dir: string;
  datasetId: number;
}

/** Admin account, both models and `perClass` world-5 scenes per class (the demo's seed 7). */
export async function seedToyworld5(platform: Platform, perClass: number): Promise<Toyworld5Platform> {
  const userId = await createUser(platform, { ...VIEWER_ADMIN, role: "admin" });
  const db = platform.db();
  const { token } = createSession(db, userId);
  const admin = createCaller(
    createContext({
      db,
      queue: new SqliteJobQueue(db),
      storageRoot: platform.dataDir,
      headers: new Headers({ cookie: `${SESSION_COOKIE}=${token}` }),
      resHeaders: null,
    }),
  );
  const flowersModel = (await admin.models.upload(layersModelForm(FLOWERS, "toyworld5 (flowers beside the bees)"))).id;
  const controlModel = (await admin.models.upload(layersModelForm(CONTROL, "toyworld5-control (no flowers)"))).id;
  const dir = join(platform.dir, "world5");
  await generateDataset({ out: dir, perClass, seed: 7, world: readWorld(FLOWERS), quiet: true });
  const datasetId = (await admin.datasets.registerFolder({ name: "world-5 scenes", path: dir, modelId: flowersModel }))
    .id;
  return { admin, userId, flowersModel, controlModel, dir, datasetId };
}

/** A bee circuit of `modelDir` on the given bee scenes (file names under `<dir>/bee/`), stored for a run. */
export async function beeCircuit(
  platform: Platform,
  seeded: Toyworld5Platform,
  modelDir: string,
  modelId: number,
  images: string[],
): Promise<{ circuit: Circuit; circuitId: number }> {
  const { buildCircuit } = await import("~/server/neurflow");
  const circuit = await buildCircuit({
    manifestPath: join(modelDir, "manifest.json"),
    images: images.map((f) => join(seeded.dir, "bee", f)),
    className: "bee",
    layers: DEMO_LAYERS,
    params: { tau: 3, k: 20, igSteps: 8 },
  });
  const { circuitId } = seedCircuit(platform.db(), { modelId, datasetId: seeded.datasetId }, circuit, seeded.userId);
  return { circuit, circuitId };
}

export function beeFiles(seeded: Toyworld5Platform): string[] {
  return readdirSync(join(seeded.dir, "bee")).sort();
}

/**
 * AUROC of each hidden-layer group's whole-image metric M on `count` bees drawn with their flowers
 * against the same bees without them, keyed `layer:groupId`.
 */
export async function flowersAuroc(circuit: Circuit, modelDir: string, count = 10): Promise<Map<string, number>> {
  const { groupReferences, loadModel, metricM, tf } = await import("~/server/neurflow");
  const model = await loadModel(join(modelDir, "manifest.json"));
  try {
    const pairs = recoveryScenes("pairs", "bee", count, 2025, readWorld(FLOWERS));
    const out = new Map<string, number>();
    for (let p = 1; p < circuit.layers.length; p++) {
      const layer = circuit.layers[p]!.upper;
      const spatial = async (omit: "flowers" | null) => {
        const x = scenesInput(model, pairs, omit ? [omit] : []);
        const a = tf.tidy(() =>
          tf.mean(model.graph.run({ [model.graph.inputName]: x }, [model.layerTensor(layer)])[0]!, [1, 2]),
        );
        const v = (await a.data()) as Float32Array;
        const C = a.shape[1]!;
        a.dispose();
        x.dispose();
        return Array.from({ length: pairs.length }, (_, i) => v.subarray(i * C, (i + 1) * C));
      };
      const withFlowers = await spatial(null);
      const without = await spatial("flowers");
      for (const ref of groupReferences(circuit, p))
        out.set(
          `${layer}:${ref.groupId}`,
          auroc(
            withFlowers.map((a) => metricM(a, ref)),
            without.map((a) => metricM(a, ref)),
          ),
        );
    }
    return out;
  } finally {
    model.dispose();
  }
}
