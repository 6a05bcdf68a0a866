/**
 * `npm run demo`: builds the app if needed, creates the database, registers the toy-world model
 * and its images, queues a small demo circuit, starts the web server and a worker, and prints the
 * URL and a login. Nothing to configure (PORT, NEURFLOW_DB, NEURFLOW_DATA are honoured).
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
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import { storageRoot } from "~/server/storage/paths";

const root = resolve(import.meta.dirname, "..");
process.chdir(root);
const port = Number(process.env.PORT ?? 3000);
const fixture = join(root, "tests", "fixtures", "toyworld-a");
const DEMO_USER = "demo";
const DEMO_MODEL = "toyworld-a (demo)";

function step(s: string) {
  console.log(`\n▸ ${s}`);
}

async function main() {
  if (!existsSync(join(root, ".next", "BUILD_ID"))) {
    step("building the web app (next build)…");
    const r = spawnSync("npx", ["next", "build"], { stdio: "inherit", cwd: root });
    if (r.status !== 0) throw new Error("next build failed");
  }

  step("creating / migrating the database");
  const db = openDb();
  const queue = new SqliteJobQueue(db);

  const password = randomBytes(9).toString("base64url");
  const hash = await hashPassword(password);
  const existing = db.select().from(users).where(eq(users.username, DEMO_USER)).get();
  const userId = existing
    ? (db.update(users).set({ passwordHash: hash, role: "admin" }).where(eq(users.id, existing.id)).run(), existing.id)
    : db.insert(users).values({ username: DEMO_USER, passwordHash: hash, role: "admin", createdAt: Date.now() }).returning().get().id;
  const { token } = createSession(db, userId);
  const api = createCaller(
    createContext({ db, queue, storageRoot: storageRoot(), headers: new Headers({ cookie: `${SESSION_COOKIE}=${token}` }), resHeaders: null }),
  );

  let model = (await api.models.list()).find((m) => m.name === DEMO_MODEL);
  if (!model) {
    step("registering the toy-world model");
    const form = new FormData();
    form.set("name", DEMO_MODEL);
    form.set("manifest", new File([readFileSync(join(fixture, "manifest.json"))], "manifest.json"));
    form.set("onnx", new File([readFileSync(join(fixture, "toynet.onnx"))], "toynet.onnx"));
    const m = await api.models.upload(form);
    model = (await api.models.list()).find((x) => x.id === m.id)!;
  }

  let dataset = (await api.datasets.list()).find((d) => d.name === "toy-world images (demo)");
  if (!dataset) {
    step("registering the toy-world images");
    const d = await api.datasets.registerFolder({ name: "toy-world images (demo)", path: join(fixture, "images"), modelId: model.id });
    dataset = (await api.datasets.list()).find((x) => x.id === d.id)!;
  }

  const runs = await api.runs.list({ modelId: model.id });
  let runId = runs[0]?.id;
  if (runId == null) {
    step("queueing the demo circuit (class bee, τ = 3, four layers)");
    runId = (
      await api.runs.start({
        modelId: model.id,
        datasetId: dataset.id,
        className: "bee",
        layers: ["fc", "layer4.1", "layer4.0", "layer3.1"],
        tau: 3,
        k: 20,
        igSteps: 8,
        preset: "default",
      })
    ).id;
  }
  db.$client.close();

  step("starting the web server and a worker");
  const children: ChildProcess[] = [
    spawn("npx", ["next", "start", "-p", String(port)], { stdio: "inherit", cwd: root }),
    spawn("npx", ["tsx", "server/jobs/workerMain.ts"], { stdio: "inherit", cwd: root }),
  ];
  const stop = () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  for (const c of children) c.on("exit", (code) => code && code !== 0 && stop());

  setTimeout(() => {
    console.log(
      [
        "",
        "──────────────────────────────────────────────",
        ` NeurFlow Studio:  http://localhost:${port}/`,
        ` sign in as:       ${DEMO_USER} / ${password}`,
        ` the demo run:     http://localhost:${port}/runs/${runId}`,
        " stop with Ctrl-C",
        "──────────────────────────────────────────────",
      ].join("\n"),
    );
  }, 3000);
}

main().catch((e) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
