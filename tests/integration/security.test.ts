/**
 * The tRPC route against an attacker, on a real server process on loopback
 * (tests/helpers/routeServer.ts): memory held by unauthenticated uploads (the server's RSS read
 * from /proc), cross-origin mutations (CSRF), rate-limited sign-in, the batch cap, temp upload
 * folders swept at start after a kill mid-upload, the decoded-pixel budget of an upload, and
 * corrupt models refused at upload.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datasetForm, FIXTURE, fixtureZipEntries, makeZip, modelForm, pngHeaderOnly } from "../helpers/fixtures";

const PUBLIC_URL = "http://neurflow.test";
const MiB = 1024 * 1024;

interface Server {
  proc: ChildProcess;
  url: string;
  port: number;
  output(): string;
}

const dir = mkdtempSync(join(tmpdir(), "neurflow-security-"));
const dataDir = join(dir, "files");
const servers: Server[] = [];

/**
 * A route server process on loopback: by default on the shared database and data folder of this
 * file, or on its own (`root`), with more environment (`env`).
 */
function startServer(opts: { root?: string; env?: Record<string, string> } = {}): Promise<Server> {
  const root = opts.root ?? dir;
  const proc = spawn(process.execPath, ["--import", "tsx", join("tests", "helpers", "routeServer.ts")], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      NEURFLOW_DB: join(root, "db.sqlite"),
      NEURFLOW_DATA: join(root, "files"),
      NEURFLOW_PUBLIC_URL: PUBLIC_URL,
      NODE_ENV: "production",
      NEURFLOW_TRUST_PROXY: "",
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  return new Promise((resolve, reject) => {
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        const s: Server = { proc, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}`, output: () => out };
        servers.push(s);
        resolve(s);
      }
    });
    proc.stderr!.on("data", (d) => (out += d));
    proc.once("exit", (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
}

function stop(s: Server, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    s.proc.once("exit", () => r());
    s.proc.kill(signal);
  });
}

/** Resident memory of a process (bytes) from /proc: current, and peak since the last reset. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)![1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}
/** Resets the peak (VmHWM) to the current RSS (Linux: "5" to clear_refs). */
const resetPeak = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, "5");

let server: Server;
let adminCookie = "";
let annotatorCookie = "";

async function trpc(
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
  on: Server = server,
): Promise<Response> {
  return fetch(`${on.url}/api/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ json: input }),
  });
}
const cookieOf = (r: Response) => r.headers.getSetCookie()[0]!.split(";")[0]!;
const datasetDirs = () => (existsSync(join(dataDir, "datasets")) ? readdirSync(join(dataDir, "datasets")) : []);
const modelDirs = () => (existsSync(join(dataDir, "models")) ? readdirSync(join(dataDir, "models")) : []);
const uploadTemps = (data = dataDir) =>
  existsSync(join(data, "tmp")) ? readdirSync(join(data, "tmp")).filter((n) => n.startsWith("upload-")) : [];

async function postForm(path: string, form: FormData, headers: Record<string, string>): Promise<Response> {
  return fetch(`${server.url}/api/trpc/${path}`, { method: "POST", headers, body: form });
}

beforeAll(async () => {
  server = await startServer();
  const setup = await trpc("auth.setup", { username: "admin", password: "admin-password" });
  expect(setup.status).toBe(200);
  adminCookie = cookieOf(setup);
  expect(
    (
      await trpc(
        "users.create",
        { username: "annotator", password: "annotator-password", role: "annotator" },
        { cookie: adminCookie },
      )
    ).status,
  ).toBe(200);
  annotatorCookie = cookieOf(await trpc("auth.signIn", { username: "annotator", password: "annotator-password" }));
});
afterAll(async () => {
  for (const s of servers) await stop(s, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Sends a multipart body of `total` bytes to `path` on `on` without a cookie, in 1 MiB chunks
 * (chunked, or with a declared length), sampling the server's memory after each chunk, until the
 * server answers or the body is sent.
 */
async function floodUpload(
  on: Server,
  path: string,
  total: number,
  declareLength: boolean,
  json = false,
): Promise<{ status: number; closed: boolean; sent: number; maxRss: number }> {
  const boundary = "x";
  const head = json
    ? Buffer.from('{"json":{"username":"admin","password":"')
    : Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="onnx"; filename="m.onnx"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      );
  const chunk = Buffer.alloc(MiB, json ? 0x61 : 7);
  const headers: Record<string, string> = {
    "content-type": json ? "application/json" : `multipart/form-data; boundary=${boundary}`,
  };
  if (declareLength) headers["content-length"] = String(total);
  const req = httpRequest(`${on.url}/api/trpc/${path}`, { method: "POST", headers, agent: false });
  let status = 0;
  let failed = false;
  const answered = new Promise<void>((resolve) => {
    req.on("response", (res) => {
      status = res.statusCode ?? 0;
      res.resume();
      res.on("end", () => resolve());
    });
    // the server may answer and close the connection while the body is still being written: the
    // write then fails (EPIPE / ECONNRESET) and the answer can be lost with the connection
    req.on("error", () => {
      failed = true;
      resolve();
    });
  });
  let sent = 0;
  let maxRss = 0;
  req.write(head);
  sent += head.length;
  for (let i = 0; i < Math.ceil(total / MiB) && status === 0 && !failed; i++) {
    const part = chunk.subarray(0, Math.min(MiB, total - sent));
    if (part.length === 0) break;
    const flushed = req.write(part);
    sent += part.length;
    if (!flushed) await Promise.race([new Promise((r) => req.once("drain", r)), answered]);
    maxRss = Math.max(maxRss, memory(on.proc.pid!).rss);
  }
  if (status === 0 && !failed) req.end();
  await answered;
  req.destroy();
  return { status, closed: failed, sent, maxRss };
}

/**
 * A 600 MiB unauthenticated body to `path` on a server of its own, started for this one
 * measurement (memory that an earlier flood left held cannot hide this one's growth, nor count
 * against it): warmed (its route loaded, one small refusal run), then its RSS and peak measured
 * around the flood. Returns the growth, and how the server answered.
 */
async function measuredFlood(path: string, declareLength: boolean, json = false) {
  const root = mkdtempSync(join(dir, "flood-"));
  const own = await startServer({ root });
  try {
    expect((await fetch(`${own.url}/api/trpc/auth.me`)).status).toBe(200);
    await floodUpload(own, path, 2 * MiB, declareLength, json);
    const before = memory(own.proc.pid!).rss;
    resetPeak(own.proc.pid!);
    const r = await floodUpload(own, path, 600 * MiB, declareLength, json);
    const growth = Math.max(memory(own.proc.pid!).peak, r.maxRss) - before;
    return { ...r, growth, temps: uploadTemps(join(root, "files")) };
  } finally {
    await stop(own, "SIGKILL");
  }
}

describe("an unauthenticated upload", () => {
  for (const declareLength of [false, true])
    it(`is refused before its body is read, holding no memory (${declareLength ? "with" : "without"} Content-Length)`, async () => {
      const r = await measuredFlood("models.upload", declareLength);
      // refused: answered 401, or the connection closed by the server long before the body was sent
      if (r.status !== 0) expect(r.status).toBe(401);
      else {
        expect(r.closed).toBe(true);
        expect(r.sent).toBeLessThan(100 * MiB);
      }
      expect(r.growth).toBeLessThan(50 * MiB);
      expect(r.temps).toStrictEqual([]);
    });

  it("of JSON (a 600 MiB sign-in, chunked) is refused after 64 KiB, holding no memory", async () => {
    const r = await measuredFlood("auth.signIn", false, true);
    if (r.status !== 0) expect(r.status).toBe(413);
    else {
      expect(r.closed).toBe(true);
      expect(r.sent).toBeLessThan(100 * MiB);
    }
    expect(r.growth).toBeLessThan(50 * MiB);
  });

  it("by a viewer (role too low) is refused the same way, before its body is read", async () => {
    const viewerCookie = cookieOf(
      await (async () => {
        await trpc(
          "users.create",
          { username: "viewer", password: "viewer-password", role: "viewer" },
          { cookie: adminCookie },
        );
        return trpc("auth.signIn", { username: "viewer", password: "viewer-password" });
      })(),
    );
    const r = await postForm("datasets.uploadZip", datasetForm(makeZip(fixtureZipEntries(["bee"], 1))), {
      cookie: viewerCookie,
    });
    expect(r.status).toBe(403);
    expect(JSON.stringify(await r.json())).toContain("needs the annotator role");
    expect(datasetDirs()).toStrictEqual([]);
  });
});

describe("cross-origin mutations (CSRF)", () => {
  const zip = () => makeZip(fixtureZipEntries(["bee"], 2));
  const refused: [string, Record<string, string>][] = [
    ["another site's Origin", { origin: "http://evil.example" }],
    [
      "another port of the same host (same site)",
      { origin: "http://neurflow.test:8080", "sec-fetch-site": "same-site" },
    ],
    ["Sec-Fetch-Site cross-site without Origin", { "sec-fetch-site": "cross-site" }],
    ["an opaque Origin", { origin: "null" }],
  ];
  for (const [what, headers] of refused)
    it(`refuses a FormData upload with the annotator's cookie from ${what}, storing nothing`, async () => {
      const r = await postForm("datasets.uploadZip", datasetForm(zip(), `csrf ${what}`), {
        cookie: annotatorCookie,
        ...headers,
      });
      expect(r.status).toBe(403);
      expect((await r.json()).error.json.message).toMatch(/may not change anything here/);
      expect(datasetDirs()).toStrictEqual([]);
      expect(uploadTemps()).toStrictEqual([]);
    });

  it("refuses a JSON mutation from another origin, and image debugging uploads too", async () => {
    const r = await trpc(
      "users.create",
      { username: "mallory", password: "mallory-password", role: "admin" },
      { cookie: adminCookie, origin: "http://evil.example" },
    );
    expect(r.status).toBe(403);
    const me = await trpc("auth.signIn", { username: "mallory", password: "mallory-password" });
    expect(me.status).toBe(401); // the account was not created
    const debug = new FormData();
    debug.set("circuitId", "1");
    debug.set("layerIndex", "0");
    expect(
      (await postForm("evaluations.startImageDebug", debug, { cookie: annotatorCookie, origin: "http://evil.example" }))
        .status,
    ).toBe(403);
  });

  it("accepts the same upload from the app's own origin (NEURFLOW_PUBLIC_URL)", async () => {
    const r = await postForm("datasets.uploadZip", datasetForm(zip(), "own origin"), {
      cookie: annotatorCookie,
      origin: PUBLIC_URL,
      "sec-fetch-site": "same-origin",
    });
    expect(r.status).toBe(200);
    expect((await r.json()).result.data.json).toMatchObject({ name: "own origin", imageCount: 2 });
    expect(datasetDirs()).toHaveLength(1);
    expect(uploadTemps()).toStrictEqual([]);
  });
});

interface Accounts {
  s: Server;
  adminCookie: string;
  annotatorCookie: string;
}

/** A server of its own (fresh limits), with an admin and an annotator. */
async function serverWithAccounts(env: Record<string, string>): Promise<Accounts> {
  const s = await startServer({ root: mkdtempSync(join(dir, "limits-")), env });
  const setup = await trpc("auth.setup", { username: "admin", password: "admin-password" }, {}, s);
  expect(setup.status).toBe(200);
  const adminCookie = cookieOf(setup);
  const user = { username: "annotator", password: "annotator-password" };
  expect((await trpc("users.create", { ...user, role: "annotator" }, { cookie: adminCookie }, s)).status).toBe(200);
  return { s, adminCookie, annotatorCookie: cookieOf(await trpc("auth.signIn", user, {}, s)) };
}

/** A JSON POST to `on` from the local address `from` (another loopback address: 127.0.0.2, …). */
function postFrom(on: Server, from: string, path: string, input: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${on.url}/api/trpc/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      localAddress: from,
      agent: false,
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(JSON.stringify({ json: input }));
  });
}

/** A different made-up address each call. */
let made = 0;
const madeUp = () => `198.51.${Math.floor(++made / 250) % 250}.${(made % 250) + 1}`;

describe("sign-in rate limits", () => {
  // NEURFLOW_TRUST_PROXY = 1: the address is the last X-Forwarded-For hop (a proxy appended it)
  let proxied: Accounts;
  // the default: the socket's address; X-Forwarded-For is the client's to write, and ignored
  let direct: Accounts;
  beforeAll(async () => {
    [proxied, direct] = await Promise.all([serverWithAccounts({ NEURFLOW_TRUST_PROXY: "1" }), serverWithAccounts({})]);
  });
  const signIn = (on: Accounts, username: string, password: string, headers: Record<string, string>) =>
    trpc("auth.signIn", { username, password }, headers, on.s);

  it("blocks an account after 10 wrong passwords with Retry-After, the right one included, other accounts not", async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 30; i++) {
      // a different address each time: the per-account limit holds on its own
      const r = await signIn(proxied, "annotator", `wrong-password-${i}`, { "x-forwarded-for": `10.1.0.${i + 1}` });
      statuses.push(r.status);
      if (r.status === 429) retryAfter ??= r.headers.get("retry-after");
    }
    expect(statuses.slice(0, 10)).toStrictEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toStrictEqual(Array(20).fill(429));
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(15 * 60);
    const right = await signIn(proxied, "annotator", "annotator-password", { "x-forwarded-for": "10.1.1.1" });
    expect(right.status).toBe(429);
    expect((await right.json()).error.json.message).toMatch(/try again in \d+ s/);
    expect((await signIn(proxied, "admin", "admin-password", { "x-forwarded-for": "10.1.1.2" })).status).toBe(200);
    // a session made before the block still works
    expect(
      (
        await fetch(`${proxied.s.url}/api/trpc/auth.me`, { headers: { cookie: proxied.annotatorCookie } }).then((r) =>
          r.json(),
        )
      ).result.data.json.user.username,
    ).toBe("annotator");
  });

  it("behind 1 trusted proxy, blocks the last X-Forwarded-For hop after 20 failures, whatever the account or the hops before it, not other addresses", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push(
        (await signIn(proxied, `nobody${i}`, "wrong-password", { "x-forwarded-for": `${madeUp()}, 10.2.0.1` })).status,
      );
    expect(statuses.slice(0, 20)).toStrictEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toStrictEqual(Array(10).fill(429));
    expect((await signIn(proxied, "admin", "admin-password", { "x-forwarded-for": "10.2.0.1" })).status).toBe(429);
    // the blocked address written by the client before the proxy's hop is not the address
    expect((await signIn(proxied, "admin", "admin-password", { "x-forwarded-for": "10.2.0.1, 10.2.0.2" })).status).toBe(
      200,
    );
  });

  it("without a trusted proxy (the default), a client that writes a new X-Forwarded-For (and a forged address stamp) on every attempt is still one address: blocked after 20", async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 30; i++) {
      const xff = i % 2 ? madeUp() : `${madeUp()}, ${madeUp()}`;
      const r = await signIn(direct, `nobody${i}`, "wrong-password", {
        "x-forwarded-for": xff,
        "x-neurflow-peer": `forged ${madeUp()}`,
      });
      statuses.push(r.status);
      if (r.status === 429) retryAfter ??= r.headers.get("retry-after");
    }
    expect(statuses.slice(0, 20)).toStrictEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toStrictEqual(Array(10).fill(429));
    expect(Number(retryAfter)).toBeGreaterThan(0);
    // the loopback address is blocked, whatever the next request claims
    expect((await signIn(direct, "admin", "admin-password", { "x-forwarded-for": madeUp() })).status).toBe(429);
    expect((await signIn(direct, "admin", "admin-password", {})).status).toBe(429);
    // the socket's address, not one shared key: another loopback address is not blocked
    expect(
      await postFrom(direct.s, "127.0.0.2", "auth.signIn", { username: "admin", password: "admin-password" }),
    ).toBe(200);
  });
});

describe("tRPC batches", () => {
  it("refuses 200 calls in one request with a clear 400, and answers 20", async () => {
    const call = (n: number) => {
      const paths = Array(n).fill("auth.me").join(",");
      const input = encodeURIComponent(
        JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { json: null }]))),
      );
      return fetch(`${server.url}/api/trpc/${paths}?batch=1&input=${input}`, { headers: { cookie: adminCookie } });
    };
    const big = await call(200);
    expect(big.status).toBe(400);
    expect(JSON.stringify(await big.json())).toContain("a batch of 200 calls; at most 20");
    const ok = await call(20);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toHaveLength(20);
  });
});

describe("the decoded-pixel budget", () => {
  it("refuses 100 images of 4096² from their headers, before decoding any, storing nothing", async () => {
    const entries = Array.from({ length: 100 }, (_, i) => ({
      name: `bee/${String(i).padStart(3, "0")}.png`,
      data: pngHeaderOnly(4096),
    }));
    const r = await postForm("datasets.uploadZip", datasetForm(makeZip(entries), "pixel bomb"), {
      cookie: annotatorCookie,
    });
    expect(r.status).toBe(400);
    const message = (await r.json()).error.json.message as string;
    // refused by the budget, not by a decode (a decode would find the pixel data corrupt)
    expect(message).toContain("NEURFLOW_MAX_UPLOAD_PIXELS");
    expect(message).not.toContain("corrupt");
    expect(datasetDirs()).toHaveLength(1); // the "own origin" dataset only
    expect(uploadTemps()).toStrictEqual([]);
  });
});

describe("a server killed mid-upload", () => {
  it("leaves a temp upload folder that the next server start removes", async () => {
    const boundary = "y";
    const req = httpRequest(`${server.url}/api/trpc/datasets.uploadZip`, {
      method: "POST",
      headers: { cookie: annotatorCookie, "content-type": `multipart/form-data; boundary=${boundary}` },
      agent: false,
    });
    req.on("error", () => {});
    req.write(
      `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nhalf\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="images.zip"\r\n\r\n`,
    );
    // bounded: the temp folder appears once the first file bytes reach the server
    for (let i = 0; i < 400 && uploadTemps().length === 0; i++) {
      req.write(Buffer.alloc(64 * 1024, 1));
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(uploadTemps()).toHaveLength(1);
    await stop(server, "SIGKILL");
    req.destroy();
    expect(uploadTemps()).toHaveLength(1); // left behind
    server = await startServer();
    expect(uploadTemps()).toStrictEqual([]);
    expect((await fetch(`${server.url}/api/trpc/auth.me`)).status).toBe(200);
  });
});

describe("models checked at upload", () => {
  const manifest = () => JSON.parse(readFileSync(join(FIXTURE, "manifest.json"), "utf8"));
  const onnx = readFileSync(join(FIXTURE, "toynet.onnx"));
  const cases: [string, () => FormData, RegExp][] = [
    ["a truncated ONNX file", () => modelForm({ onnx: onnx.subarray(0, Math.floor(onnx.length / 2)) }), /ONNX/],
    [
      "random bytes after an ONNX tag",
      () =>
        modelForm({
          onnx: Buffer.concat([
            Buffer.from([0x08, 0x07]),
            Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251)),
          ]),
        }),
      /ONNX/,
    ],
    [
      "a manifest with 7 classes for a 6-logit model",
      () => modelForm({ manifest: { ...manifest(), classes: [...manifest().classes, "extra"] } }),
      /class/,
    ],
    [
      "a graph whose node reads a missing initializer",
      () =>
        modelForm({
          onnx: readFileSync(join("tests", "fixtures", "models", "bad_missing_input.onnx")),
          manifest: { ...manifest(), input: { ...manifest().input, name: undefined } },
        }),
      /provides|input/,
    ],
    [
      "a manifest layer naming an unknown tensor",
      () =>
        modelForm({
          manifest: {
            ...manifest(),
            layers: manifest().layers.map((l: { name: string }, i: number) =>
              i === 0 ? { ...l, tensor: "no_such_tensor" } : l,
            ),
          },
        }),
      /no_such_tensor/,
    ],
  ];
  for (const [what, form, message] of cases)
    it(`refuses ${what} with a 400 that stores nothing`, async () => {
      const before = modelDirs().length;
      const r = await postForm("models.upload", form(), { cookie: annotatorCookie });
      const body = await r.json();
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(body.error.json.message).toMatch(message);
      expect(modelDirs()).toHaveLength(before);
      expect(uploadTemps()).toStrictEqual([]);
    });

  it("accepts the fixture model", async () => {
    const r = await postForm("models.upload", modelForm({ name: "toy" }), { cookie: annotatorCookie });
    expect(r.status).toBe(200);
    expect(modelDirs()).toHaveLength(1);
  });
});
