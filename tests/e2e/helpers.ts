/**
 * Shared end-to-end utilities: the real platform (`next start` on a production build + worker
 * processes running the real engine) on a free port with a fresh SQLite database in a temp folder,
 * headless Chromium (Debian's, driven by playwright-core), and sign-in.
 *
 *   let platform: Platform; let browser: Browser;
 *   beforeAll(async () => {
 *     platform = await startPlatform();          // builds the app first if its sources changed
 *     browser = await launchBrowser();
 *   }, E2E_SETUP_TIMEOUT_MS);
 *   afterAll(async () => { await browser?.close(); await platform?.stop(); });
 *   it("…", async () => {
 *     const page = await browser.newPage();
 *     await signIn(page, platform);               // the first account becomes admin
 *     await page.goto(platform.url + "/");
 *   });
 *
 * The build: `next build` into `.next-e2e/` (the developer's `.next/` is left alone), skipped when
 * the stamp written after the last build matches a hash of the app's sources. Builds are
 * serialised across processes, and a rebuild waits until no other live test process is serving
 * the old build (a reader/writer lock under node_modules/.cache/neurflow-e2e/).
 *
 * Environment: CHROMIUM_PATH (default /usr/bin/chromium); E2E_VERBOSE=1 echoes server and worker
 * output; E2E_SKIP_BUILD=1 uses `.next-e2e/` as it is.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { eq } from "drizzle-orm";
import { chromium, type Browser, type Page } from "playwright-core";
import { openDb, type Db } from "~/db/client";
import { users, type Role } from "~/db/schema";
import { builtHash, sourceHash, writeBuildStamp } from "~/scripts/buildStamp";
import { hashPassword } from "~/server/auth/password";

export const ROOT = resolve(import.meta.dirname, "..", "..");
/** Where the tests' production build lives (next.config.ts reads NEURFLOW_NEXT_DIST_DIR). */
export const DIST_DIR = ".next-e2e";
/** A beforeAll timeout that covers a build on a busy two-core machine plus the server start. */
export const E2E_SETUP_TIMEOUT_MS = 15 * 60_000;

export interface Credentials {
  username: string;
  password: string;
}
/** The account `signIn` creates on a fresh platform (the first account becomes admin). */
export const ADMIN: Credentials = { username: "admin", password: "admin-password-e2e" };

export interface Platform {
  /** e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  port: number;
  /** The temp folder holding the database and the uploaded files; removed by `stop()`. */
  dir: string;
  dbPath: string;
  /** NEURFLOW_DATA of the server and the workers. */
  dataDir: string;
  /** The environment the server and workers run with (for spawning more processes alike). */
  env: NodeJS.ProcessEnv;
  /** Worker processes started so far (running or not), oldest first. */
  workers: ChildProcess[];
  /** Starts one more worker process (`server/jobs/workerMain.ts`, the real engine). */
  startWorker(env?: Record<string, string>): ChildProcess;
  /** A connection to the platform's database from the test process (opened once; closed by `stop()`). */
  db(): Db;
  /** What the server and the workers printed so far (the last ~200 kB), for failure messages. */
  output(): string;
  /** Stops the server and the workers, closes `db()`, removes `dir` (keeps it with E2E_KEEP=1). */
  stop(): Promise<void>;
}

export interface PlatformOptions {
  /** Worker processes to start with the server (default 1; 0 for tests that need none). */
  workers?: number;
  /** NEURFLOW_LEASE_MS of the workers (default 30 000, the production default). */
  leaseMs?: number;
  /** Extra environment for the server and the workers. */
  env?: Record<string, string>;
}

// ───────────────────────────── the build ─────────────────────────────

const LOCK_DIR = join(ROOT, "node_modules", ".cache", "neurflow-e2e");
const MUTEX = join(LOCK_DIR, "mutex");
const READERS = join(LOCK_DIR, "readers");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function withMutex<T>(f: () => Promise<T>): Promise<T> {
  mkdirSync(LOCK_DIR, { recursive: true });
  for (let waited = 0; ; waited += 250) {
    try {
      mkdirSync(MUTEX);
      writeFileSync(join(MUTEX, "owner"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      // a holder that died leaves the folder behind: take it over
      let owner = 0;
      try {
        owner = Number(readFileSync(join(MUTEX, "owner"), "utf8"));
      } catch {
        /* being created or removed right now */
      }
      const age = Date.now() - (statSync(MUTEX, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      const stale = owner > 0 ? !alive(owner) : age > 10_000;
      if (stale) rmSync(MUTEX, { recursive: true, force: true });
      else await sleep(250);
      if (waited > 14 * 60_000) throw new Error(`e2e build lock ${MUTEX} held for 14 minutes by pid ${owner}`);
    }
  }
  try {
    return await f();
  } finally {
    rmSync(MUTEX, { recursive: true, force: true });
  }
}

/** Other live processes serving the current build. */
function liveReaders(): string[] {
  if (!existsSync(READERS)) return [];
  return readdirSync(READERS).filter((name) => {
    const pid = Number(name.split("-")[0]);
    if (pid === process.pid) return false;
    if (alive(pid)) return true;
    rmSync(join(READERS, name), { force: true });
    return false;
  });
}

let readerSeq = 0;
/** Registers this process as serving the build; the returned function unregisters it. */
function registerReader(): () => void {
  mkdirSync(READERS, { recursive: true });
  const file = join(READERS, `${process.pid}-${++readerSeq}`);
  writeFileSync(file, "");
  return () => rmSync(file, { force: true });
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, out }));
  });
}

async function build(hash: string): Promise<void> {
  const nextEnv = join(ROOT, "next-env.d.ts");
  const before = existsSync(nextEnv) ? readFileSync(nextEnv, "utf8") : null;
  const env = { ...process.env, NEURFLOW_NEXT_DIST_DIR: DIST_DIR, NEXT_TELEMETRY_DISABLED: "1" };
  const nextBin = join(ROOT, "node_modules", "next", "dist", "bin", "next");
  const started = Date.now();
  // niced: other work on the machine (and the other test files) keeps its share of the CPU
  const useNice = existsSync("/usr/bin/nice") || existsSync("/bin/nice");
  const r = await (useNice
    ? run("nice", ["-n", "10", process.execPath, nextBin, "build"], env)
    : run(process.execPath, [nextBin, "build"], env));
  // `next build` points next-env.d.ts at the folder it built; the type check keeps seeing `.next`
  if (before !== null && readFileSync(nextEnv, "utf8") !== before) writeFileSync(nextEnv, before);
  if (r.code !== 0) throw new Error(`next build failed (exit ${r.code}):\n${r.out.slice(-6000)}`);
  writeBuildStamp(ROOT, DIST_DIR, hash, (Date.now() - started) / 1000);
  console.log(`[e2e] next build into ${DIST_DIR}/ took ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * Makes sure `.next-e2e/` holds a build of the current sources (building if not) and registers
 * this process as serving it until the returned function is called (`startPlatform` does this).
 */
export async function ensureBuild(): Promise<() => void> {
  if (process.env.E2E_SKIP_BUILD === "1") {
    if (!existsSync(join(ROOT, DIST_DIR, "BUILD_ID")))
      throw new Error(`E2E_SKIP_BUILD=1 but ${DIST_DIR}/ holds no build`);
    return () => {};
  }
  return withMutex(async () => {
    const hash = sourceHash(ROOT);
    if (builtHash(ROOT, DIST_DIR) !== hash) {
      // wait until nobody serves the old build any more (new readers wait for the mutex)
      const end = Date.now() + 12 * 60_000;
      for (let r = liveReaders(); r.length > 0; r = liveReaders()) {
        if (Date.now() > end)
          throw new Error(`e2e build: other test processes still serve the old build (${r.join(", ")})`);
        await sleep(500);
      }
      await build(hash);
    }
    return registerReader();
  });
}

// ───────────────────────────── the platform ─────────────────────────────

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePromise(port));
    });
  });
}

const children = new Set<ChildProcess>();
function killGroup(c: ChildProcess, signal: NodeJS.Signals) {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
  try {
    process.kill(-c.pid, signal); // the process group: `next start` runs its server in a child process
  } catch {
    try {
      c.kill(signal);
    } catch {
      /* already gone */
    }
  }
}
process.once("exit", () => {
  for (const c of children) killGroup(c, "SIGKILL");
});

function exited(c: ChildProcess): Promise<void> {
  return c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => c.once("exit", () => r()));
}

/** Stops a process (and its process group) with SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(c: ChildProcess, graceMs = 5000): Promise<void> {
  killGroup(c, "SIGTERM");
  const done = exited(c);
  if (await Promise.race([done.then(() => true), sleep(graceMs).then(() => false)])) return;
  killGroup(c, "SIGKILL");
  await done;
}

/**
 * Starts the platform: builds if needed, creates and migrates a fresh database in a temp folder,
 * starts `next start` on a free port and `workers` worker processes, and waits until the server
 * answers.
 */
export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  const releaseBuild = await ensureBuild();
  const dir = mkdtempSync(join(tmpdir(), "neurflow-e2e-"));
  const dbPath = join(dir, "neurflow.db");
  const dataDir = join(dir, "files");
  let db: Db | null = openDb(dbPath); // migrates before any process opens it
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    NEURFLOW_NEXT_DIST_DIR: DIST_DIR,
    NEURFLOW_DB: dbPath,
    NEURFLOW_DATA: dataDir,
    NEURFLOW_LEASE_MS: String(opts.leaseMs ?? 30_000),
    // the address the browser opens: mutations must come from it, absolute links are built on it
    NEURFLOW_PUBLIC_URL: `http://127.0.0.1:${port}`,
    ...opts.env,
  };
  let log = "";
  const verbose = process.env.E2E_VERBOSE === "1";
  const capture = (name: string, c: ChildProcess) => {
    const on = (d: Buffer) => {
      const text = d
        .toString()
        .split("\n")
        .filter(Boolean)
        .map((l) => `[${name}] ${l}\n`)
        .join("");
      log = (log + text).slice(-200_000);
      if (verbose) process.stderr.write(text);
    };
    c.stdout?.on("data", on);
    c.stderr?.on("data", on);
  };
  const spawnTracked = (name: string, args: string[], extra: Record<string, string> = {}) => {
    const c = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...env, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    children.add(c);
    c.once("exit", () => children.delete(c));
    capture(name, c);
    return c;
  };

  const server = spawnTracked("server", [
    join(ROOT, "node_modules", "next", "dist", "bin", "next"),
    "start",
    "-p",
    String(port),
    "-H",
    "127.0.0.1",
  ]);
  const workers: ChildProcess[] = [];
  const startWorker = (extra: Record<string, string> = {}) => {
    const w = spawnTracked(
      `worker ${workers.length + 1}`,
      ["--import", "tsx", join(ROOT, "server", "jobs", "workerMain.ts")],
      extra,
    );
    workers.push(w);
    return w;
  };
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const platform: Platform = {
    url,
    port,
    dir,
    dbPath,
    dataDir,
    env,
    workers,
    startWorker,
    db: () => (db ??= openDb(dbPath)),
    output: () => log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all([server, ...workers].map((c) => stopProcess(c)));
      releaseBuild();
      db?.$client.close();
      db = null;
      if (process.env.E2E_KEEP === "1") console.log(`[e2e] kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < (opts.workers ?? 1); i++) startWorker();
    const end = Date.now() + 120_000;
    for (;;) {
      if (server.exitCode !== null || server.signalCode !== null) throw new Error("next start exited");
      try {
        const r = await fetch(`${url}/signin`, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
        if (r.status < 500) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > end) throw new Error("next start did not answer within 2 minutes");
      await sleep(200);
    }
  } catch (e) {
    await platform.stop();
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${log.slice(-4000)}`);
  }
  return platform;
}

/** Adds an account directly in the database (for tests needing viewers or annotators). */
export async function createUser(platform: Platform, user: Credentials & { role: Role }): Promise<number> {
  const db = platform.db();
  const passwordHash = await hashPassword(user.password);
  const existing = db.select().from(users).where(eq(users.username, user.username)).get();
  if (existing) {
    db.update(users).set({ passwordHash, role: user.role }).where(eq(users.id, existing.id)).run();
    return existing.id;
  }
  return db
    .insert(users)
    .values({ username: user.username, passwordHash, role: user.role, createdAt: Date.now() })
    .returning()
    .get().id;
}

// ───────────────────────────── the browser ─────────────────────────────

/** Headless Chromium (Debian's package; CHROMIUM_PATH overrides) with a fresh profile. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(executablePath))
    throw new Error(`no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`);
  // playwright gives every launch a fresh temporary profile (it refuses --user-data-dir in args)
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
    ],
  });
}

/**
 * Signs in on `/signin`; on a fresh platform this creates the first account, which becomes admin.
 * Resolves once the page shows the signed-in user.
 */
export async function signIn(page: Page, platform: Platform, user: Credentials = ADMIN): Promise<void> {
  await page.goto(`${platform.url}/signin`);
  if (new URL(page.url()).pathname !== "/signin") {
    // already signed in (the page redirected): as this user, done; as another, sign out first
    const whoami = page.getByTestId("whoami");
    if ((await whoami.textContent())?.startsWith(`${user.username} `)) return;
    await page.getByRole("button", { name: /sign out/i }).click();
    await page.waitForURL((u) => u.pathname === "/signin");
    await page.goto(`${platform.url}/signin`);
  }
  await page.locator('input[name="username"]').fill(user.username);
  await page.locator('input[name="password"]').fill(user.password);
  await page.locator('button[type="submit"]').click();
  await page.getByTestId("whoami").filter({ hasText: user.username }).waitFor({ timeout: 30_000 });
}
