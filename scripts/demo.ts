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
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { eq } from "drizzle-orm";
import { openDb } from "~/db/client";
import { users } from "~/db/schema";
import { createContext } from "~/server/api/context";
import { createCaller } from "~/server/api/root";
import { hashPassword } from "~/server/auth/password";
import { createSession, SESSION_COOKIE } from "~/server/auth/sessions";
import { createJobQueue } from "~/server/jobs/createQueue";
import { storageRoot } from "~/server/storage/paths";
import { builtHash, sourceHash, writeBuildStamp } from "./buildStamp";
import { seedDemo } from "./demoSeed";

const root = resolve(import.meta.dirname, "..");
process.chdir(root);
const port = Number(process.env.PORT ?? 3000);
const DEMO_USER = "demo";
const nextBin = join(root, "node_modules", "next", "dist", "bin", "next");

function step(s: string) {
  console.log(`\n▸ ${s}`);
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

  const seeded = await seedDemo(api, { root, dataDir: storageRoot(), step });
  const { demo, runId, biasedRunId, biasedControlRunId, controlRunId } = seeded;
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
