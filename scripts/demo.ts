/**
 * `npm run demo`: builds the app if `.next/` holds no build of the current sources, creates the database, registers the toy-world model
 * and its images, queues a small demo circuit, starts the web server and a worker, and prints the
 * URL and a login. Nothing to configure (PORT, NEURFLOW_DB, NEURFLOW_DATA are honoured).
 *
 * The model: the trained toy-world demo model `models/toyworld/` (TF.js layers; see
 * docs/toyworld.md) when the checkout has it, otherwise the engine's parity fixture
 * `tests/fixtures/toyworld-a/` (ONNX). Both classify the same six toy-world classes at 64×64 and
 * name their layers alike, so the images (the fixture's 16 scenes per class) and the demo run are
 * the same for either.
 *
 * When the checkout also has `models/toyworld5/` (world 5: flowers beside 95% of the bees, most bees
 * far and tiny), the demo registers it too, with 16 world-5 scenes per class generated into the
 * data folder, and queues its bee circuit: the one where NeurFlow finds the planted flowers.
 * The cue-free controls (`models/toyworld-control`, `models/toyworld5-control`: flowers equally
 * common in every class) are registered beside them with the same images and the same bee run, so
 * the home page can compare each model with its control (server/demo/story.ts names them all).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { eq } from "drizzle-orm";
import { openDb } from "~/db/client";
import { users } from "~/db/schema";
import { createContext } from "~/server/api/context";
import { createCaller } from "~/server/api/root";
import { hashPassword } from "~/server/auth/password";
import { createSession, SESSION_COOKIE } from "~/server/auth/sessions";
import { createJobQueue } from "~/server/jobs/createQueue";
import { DEMO_CLASS, DEMO_DATASET, DEMO_MODELS, FLOWERS_DATASET as BIASED_DATASET } from "~/server/demo/story";
import { storageRoot } from "~/server/storage/paths";
import { builtHash, sourceHash, writeBuildStamp } from "./buildStamp";

const root = resolve(import.meta.dirname, "..");
process.chdir(root);
const port = Number(process.env.PORT ?? 3000);
const fixture = join(root, "tests", "fixtures", "toyworld-a");
const trained = join(root, "models", "toyworld");
const biased = join(root, "models", "toyworld5");
const trainedControl = join(root, "models", "toyworld-control");
const biasedControl = join(root, "models", "toyworld5-control");
const DEMO_USER = "demo";
const BIASED_MODEL = DEMO_MODELS.flowers[0];
const nextBin = join(root, "node_modules", "next", "dist", "bin", "next");

function step(s: string) {
  console.log(`\n▸ ${s}`);
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
function demoModel(): { name: string; source: string; form: () => FormData } {
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

async function waitForServer(url: string, children: ChildProcess[]): Promise<boolean> {
  for (const end = Date.now() + 120_000; Date.now() < end; ) {
    if (children.some((c) => c.exitCode !== null)) return false;
    try {
      await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(5000) });
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return false;
}

async function main() {
  // a build is reused while its stamp matches the sources (after a pull or an edit it is rebuilt)
  const sources = sourceHash(root);
  if (builtHash(root, ".next") !== sources) {
    step(
      existsSync(join(root, ".next", "BUILD_ID"))
        ? "rebuilding the web app (the sources changed since .next/ was built)…"
        : "building the web app (next build)…",
    );
    const started = Date.now();
    const r = spawnSync(process.execPath, [nextBin, "build"], {
      stdio: "inherit",
      cwd: root,
      env: { ...process.env, NEURFLOW_NEXT_DIST_DIR: "" },
    });
    if (r.status !== 0) throw new Error("next build failed");
    writeBuildStamp(root, ".next", sources, (Date.now() - started) / 1000);
  }

  step("creating / migrating the database");
  const db = openDb();
  const queue = createJobQueue(db);

  const password = randomBytes(9).toString("base64url");
  const hash = await hashPassword(password);
  const existing = db.select().from(users).where(eq(users.username, DEMO_USER)).get();
  const userId = existing
    ? (db.update(users).set({ passwordHash: hash, role: "admin" }).where(eq(users.id, existing.id)).run(), existing.id)
    : db
        .insert(users)
        .values({ username: DEMO_USER, passwordHash: hash, role: "admin", createdAt: Date.now() })
        .returning()
        .get().id;
  const { token } = createSession(db, userId);
  const api = createCaller(
    createContext({
      db,
      queue,
      storageRoot: storageRoot(),
      headers: new Headers({ cookie: `${SESSION_COOKIE}=${token}` }),
      resHeaders: null,
    }),
  );

  const demo = demoModel();
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
      const dir = join(storageRoot(), "demo", "toyworld5-images");
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
  db.$client.close();

  step("starting the web server and a worker");
  const env = { ...process.env, NEURFLOW_NEXT_DIST_DIR: "" };
  const children: ChildProcess[] = [
    spawn(process.execPath, [nextBin, "start", "-p", String(port)], { stdio: "inherit", cwd: root, env }),
    spawn(process.execPath, ["--import", "tsx", join(root, "server", "jobs", "workerMain.ts")], {
      stdio: "inherit",
      cwd: root,
      env,
    }),
  ];
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  let exits = 0;
  for (const c of children)
    c.on("exit", (code) => {
      if (!stopping) {
        console.error(
          `demo: ${c === children[0] ? "the web server" : "the worker"} exited (${code ?? "signal"}); stopping`,
        );
        process.exitCode = 1;
      }
      stop();
      if (++exits === children.length) process.exit();
    });

  if (!(await waitForServer(`http://localhost:${port}/signin`, children))) return;
  console.log(
    [
      "",
      "──────────────────────────────────────────────",
      ` NeurFlow Studio:  http://localhost:${port}/`,
      ` sign in as:       ${DEMO_USER} / ${password}`,
      ` the demo run:     http://localhost:${port}/runs/${runId}`,
      ...(biasedRunId != null
        ? [
            ` a planted bias:   http://localhost:${port}/runs/${biasedRunId}  (models/toyworld5: look for the flower group)`,
          ]
        : []),
      ...(biasedControlRunId != null
        ? [` its control:      http://localhost:${port}/runs/${biasedControlRunId}  (models/toyworld5-control)`]
        : []),
      ...(controlRunId != null
        ? [` demo's control:   http://localhost:${port}/runs/${controlRunId}  (models/toyworld-control)`]
        : []),
      " start here:       the home page's “why does the flowers model say bee?” (three steps)",
      ` model:            ${demo.name} (${demo.source})`,
      " stop with Ctrl-C",
      "──────────────────────────────────────────────",
    ].join("\n"),
  );
}

main().catch((e) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
