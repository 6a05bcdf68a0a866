/**
 * Security headers and the Content-Security-Policy on the real platform (`next start`): the
 * headers on each kind of route (pages, the tRPC API, file routes, the JSON export, static
 * assets), a share page whose og:image and a created share link's url stay on the public origin
 * whatever Host / X-Forwarded-Host say, the pages in Chromium with the CSP on (the evaluations page
 * drawing a stored result's plot and exporting it as SVG and PNG): they work, and the browser
 * reports no violation; and the per-address sign-in limit keyed on the socket's address, whatever
 * X-Forwarded-For a client writes (the address stamp under Next.js).
 */
import { readdirSync, readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeEvaluation } from "~/server/evaluations/store";
import type { OptimalityResult } from "~/server/neurflow";
import { createShareLink } from "~/server/share/links";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, signIn, startPlatform, type Platform } from "./helpers";
import { seedViewer, toyCircuit, VIEWER_ADMIN, waitForGraph } from "./viewerHelpers";

let platform: Platform;
let browser: Browser;
let circuitId: number;
let token: string;
let cookie = "";

/** A stored optimality result (made up, no worker needed) for the circuit's first layer pair: 2 bars. */
function seedOptimality(pair: { upper: string; lower: string }): OptimalityResult {
  const interval = (mean: number) => ({
    mean,
    halfWidth: 0.02,
    low: mean - 0.02,
    high: mean + 0.02,
    n: 3,
    level: 0.99,
  });
  const result: OptimalityResult = {
    kind: "optimality",
    params: { taus: [2, 3], targets: 1, randomSets: 3, k: 12, seed: 0, pairs: [0] },
    cells: [2, 3].map((tau) => ({
      pairIndex: 0,
      upper: pair.upper,
      lower: pair.lower,
      tau,
      targets: [
        { neuron: 0, core: [1, 2], coreRetention: 0.5, randomRetentions: [0.6, 0.7, 0.55], meanDifference: 0.1 },
      ],
      difference: interval(0.05 * tau),
      cases: 3,
      randomBeatsCore: 3,
      ties: 0,
      coreBeatsRandom: 0,
    })),
    skipped: [],
    seconds: 0.1,
  };
  storeEvaluation(platform.db(), {
    circuitId,
    kind: "optimality",
    params: result.params,
    result,
    jobId: null,
    seconds: result.seconds,
    createdBy: null,
  });
  return result;
}

beforeAll(async () => {
  const bee = await toyCircuit("bee");
  platform = await startPlatform({ workers: 0 });
  circuitId = (await seedViewer(platform, [bee]))[0]!.circuitId;
  seedOptimality(bee.layers[0]!);
  token = createShareLink(platform.db(), {
    circuitId,
    viewState: { selected: null, threshold: 0.25, zoom: 1, pan: { x: 0, y: 0 }, heatmaps: false },
    createdBy: null,
    expiresAt: null,
    now: Date.now(),
  }).token;
  const r = await fetch(`${platform.url}/api/trpc/auth.signIn`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: platform.url },
    body: JSON.stringify({ json: VIEWER_ADMIN }),
  });
  expect(r.status).toBe(200);
  cookie = r.headers.getSetCookie()[0]!.split(";")[0]!;
  browser = await launchBrowser();
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

function expectCommonHeaders(h: Headers, what: string) {
  expect(h.get("x-content-type-options"), what).toBe("nosniff");
  expect(h.get("x-frame-options"), what).toBe("DENY");
  expect(h.get("referrer-policy"), what).toBe("strict-origin-when-cross-origin");
  expect(h.get("content-security-policy"), what).toContain("frame-ancestors 'none'");
}

describe("security headers", () => {
  it("are on pages, with a CSP whose script nonce changes per response", async () => {
    const a = await fetch(`${platform.url}/signin`);
    const b = await fetch(`${platform.url}/signin`);
    expectCommonHeaders(a.headers, "/signin");
    const csp = a.headers.get("content-security-policy")!;
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain("unsafe-eval");
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    expect(b.headers.get("content-security-policy")).not.toContain(nonce);
    // Next.js put the nonce on its scripts
    expect(await a.text()).toContain(`nonce="${nonce}"`);
  });

  const routes = () =>
    [
      ["the tRPC API", `/api/trpc/auth.me`, 200],
      ["an unknown tRPC procedure", `/api/trpc/nothing.here`, 404],
      ["a file route (thumbnail)", `/api/circuits/${circuitId}/thumb`, 200],
      ["a file route without a session", `/api/circuits/${circuitId}/og`, 401],
      ["the JSON export", `/api/circuits/${circuitId}/export`, 200],
    ] as const;
  it("are on API, file and export routes, with a CSP that allows nothing", async () => {
    for (const [what, path, status] of routes()) {
      const r = await fetch(`${platform.url}${path}`, { headers: status === 401 ? {} : { cookie } });
      expect(r.status, what).toBe(status);
      expectCommonHeaders(r.headers, what);
      expect(r.headers.get("content-security-policy"), what).toContain("default-src 'none'");
    }
  });

  it("nosniff and no framing on static assets", async () => {
    const html = await (await fetch(`${platform.url}/signin`)).text();
    const asset = /src="(\/_next\/static\/[^"]+\.js)"/.exec(html)![1]!;
    const r = await fetch(`${platform.url}${asset}`);
    expect(r.status).toBe(200);
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("x-frame-options")).toBe("DENY");
  });
});

/** The processes of this platform's web server (their environment names its database), with their RSS. */
function serverRss(): number {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "latin1");
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      if (!env.includes(`NEURFLOW_DB=${platform.dbPath}\0`) || !cmd.includes("next")) continue;
      total += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
    } catch {
      /* gone, or not ours */
    }
  }
  return total;
}

describe("an unauthenticated upload to next start", () => {
  it("is refused without the server's memory growing (600 MiB, chunked)", async () => {
    const MiB = 1024 * 1024;
    const before = serverRss();
    expect(before).toBeGreaterThan(0);
    const req = httpRequest(`${platform.url}/api/trpc/models.upload`, {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=x" },
      agent: false,
    });
    let status = 0;
    let closed = false;
    const done = new Promise<void>((resolve) => {
      req.on("response", (res) => {
        status = res.statusCode ?? 0;
        res.resume();
        res.on("end", () => resolve());
      });
      req.on("error", () => {
        closed = true;
        resolve();
      });
    });
    req.write('--x\r\nContent-Disposition: form-data; name="onnx"; filename="m.onnx"\r\n\r\n');
    const chunk = Buffer.alloc(MiB, 7);
    let sent = 0;
    let peak = before;
    for (let i = 0; i < 600 && status === 0 && !closed; i++) {
      if (!req.write(chunk)) await Promise.race([new Promise((r) => req.once("drain", r)), done]);
      sent += MiB;
      if (i % 16 === 0) peak = Math.max(peak, serverRss());
    }
    if (status === 0 && !closed) req.end();
    await done;
    req.destroy();
    peak = Math.max(peak, serverRss());
    if (status !== 0) expect(status).toBe(401);
    else expect(closed && sent < 100 * MiB).toBe(true);
    expect(peak - before).toBeLessThan(50 * MiB);
  });
});

describe("the public origin", () => {
  it("og:image of a share page stays on NEURFLOW_PUBLIC_URL whatever Host headers say", async () => {
    const r = await fetch(`${platform.url}/s/${token}`, {
      headers: { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" },
    });
    expect(r.status).toBe(200);
    const html = await r.text();
    const og = /<meta property="og:image" content="([^"]+)"/.exec(html)?.[1];
    expect(og).toBe(`${platform.url}/api/circuits/${circuitId}/og?share=${token}`.replace(/&/g, "&amp;"));
    expect(html).not.toContain("evil.example");
  });

  it("a share link created with forged Host and X-Forwarded-Host headers is on NEURFLOW_PUBLIC_URL", async () => {
    const body = JSON.stringify({
      json: { circuitId, viewState: { selected: null, threshold: 0, zoom: null, pan: null, heatmaps: false } },
    });
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        `${platform.url}/api/trpc/shareLinks.create`,
        {
          method: "POST",
          headers: {
            host: "evil.example",
            "x-forwarded-host": "evil.example",
            "x-forwarded-proto": "https",
            "content-type": "application/json",
            cookie,
          },
        },
        (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(status, text).toBe(200);
    const link = JSON.parse(text).result.data.json as { token: string; url: string };
    expect(link.url).toBe(`${platform.url}/s/${link.token}`);
  });

  it("a sign-in from another origin is refused", async () => {
    const r = await fetch(`${platform.url}/api/trpc/auth.signIn`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example" },
      body: JSON.stringify({ json: VIEWER_ADMIN }),
    });
    expect(r.status).toBe(403);
  });
});

/** Collects the CSP violations a page reports (the DOM event, and Chromium's console message). */
async function watchCsp(page: Page): Promise<string[]> {
  const seen: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.push(`${m.text()} on ${page.url()}`);
  });
  await page.exposeFunction("__cspViolation", (s: string) => seen.push(s));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      (window as unknown as { __cspViolation(s: string): void }).__cspViolation(
        `${e.violatedDirective} ${e.blockedURI} on ${location.pathname}`,
      );
    });
  });
  return seen;
}

describe("the app under its CSP in Chromium", () => {
  it("signs in, shows the home page, the viewer, the evaluations page and a share page, with no violation", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1300, height: 850 }, acceptDownloads: true });
    const page = await ctx.newPage();
    const violations = await watchCsp(page);
    await signIn(page, platform, VIEWER_ADMIN);
    await page.goto(`${platform.url}/`);
    await page.getByTestId("whoami").waitFor();
    await page.goto(`${platform.url}/circuits/${circuitId}/view`);
    await waitForGraph(page);
    expect(await page.locator('[data-testid="circuit-canvas"] canvas').count()).toBeGreaterThan(0);
    await page.goto(`${platform.url}/circuits/${circuitId}/evaluations`);
    await page.locator("h1").first().waitFor();
    // the stored result's plot: inline SVG, drawn under the CSP
    const card = page.getByTestId("plotcard-optimality");
    await card.waitFor();
    expect(await card.getByTestId("opt-bar").count()).toBe(2);
    // exported as SVG (a blob: download) and PNG (the SVG drawn from a blob: URL onto a canvas)
    const download = async (testId: string) => {
      const [dl] = await Promise.all([
        page.waitForEvent("download", { timeout: 15_000 }),
        card.getByTestId(testId).click(),
      ]).catch((e: Error) => {
        throw new Error(`${testId}: no download (${e.message}); CSP violations: ${violations.join("; ") || "none"}`);
      });
      return readFileSync((await dl.path())!);
    };
    expect((await download("export-svg")).toString("utf8")).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect((await download("export-png")).subarray(1, 4).toString()).toBe("PNG");
    await page.goto(`${platform.url}/circuits`);
    await page.locator("h1").first().waitFor();
    const share = await ctx.browser()!.newContext();
    const sp = await share.newPage();
    const shareViolations = await watchCsp(sp);
    await sp.goto(`${platform.url}/s/${token}`);
    await waitForGraph(sp);
    expect(violations).toStrictEqual([]);
    expect(shareViolations).toStrictEqual([]);
    await share.close();
    await ctx.close();
  });

  it("refuses to be framed", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    // a page of another origin (about:blank) framing the sign-in page: Chromium shows nothing of it
    await page.setContent(`<iframe id="f" src="${platform.url}/signin"></iframe>`, { waitUntil: "load" });
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(frame).toBeDefined();
    const framed = await frame!
      .evaluate(() => document.querySelector('input[name="username"]') != null)
      .catch(() => false);
    expect(framed).toBe(false);
    // the same page opened directly has its form
    const direct = await ctx.newPage();
    await direct.goto(`${platform.url}/signin`);
    expect(await direct.locator('input[name="username"]').count()).toBe(1);
    await ctx.close();
  });
});

/** A request to the platform from the local address `from` (127.0.0.1 or another loopback address). */
function requestFrom(
  from: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${platform.url}${path}`, { method, headers, localAddress: from, agent: false }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

// last: these block this platform's loopback address 127.0.0.1 for sign-in and share links
describe("the client address under next start", () => {
  const rotating = (i: number) => ({
    "x-forwarded-for": i % 2 ? `198.51.100.${i + 1}` : `203.0.113.${i + 1}, 198.51.100.${i + 1}`,
    "x-neurflow-peer": `forged 192.0.2.${i + 1}`,
  });

  it("is the socket's: a client that writes a new X-Forwarded-For (and a forged stamp) on every sign-in is blocked after 20 failures, another address is not", async () => {
    const signIn = (from: string, username: string, password: string, headers: Record<string, string>) =>
      requestFrom(
        from,
        "POST",
        "/api/trpc/auth.signIn",
        { "content-type": "application/json", ...headers },
        JSON.stringify({ json: { username, password } }),
      );
    const statuses: number[] = [];
    for (let i = 0; i < 24; i++)
      statuses.push((await signIn("127.0.0.1", `nobody${i}`, "wrong-password", rotating(i))).status);
    expect(statuses.slice(0, 20)).toStrictEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toStrictEqual(Array(4).fill(429));
    // keyed on the socket's address (not one key for every request): 127.0.0.2 signs in
    expect((await signIn("127.0.0.2", VIEWER_ADMIN.username, VIEWER_ADMIN.password, rotating(99))).status).toBe(200);
  });

  it("reaches the share page: 30 unknown tokens from one socket, each with a new X-Forwarded-For, block its share links, not another address's", async () => {
    for (let i = 0; i < 30; i++) {
      const r = await requestFrom("127.0.0.1", "GET", `/s/unknown-token-${i}`, rotating(i));
      expect(r.text).not.toContain("Too many requests");
    }
    const blocked = await requestFrom("127.0.0.1", "GET", `/s/${token}`, rotating(31));
    expect(blocked.text).toContain("Too many requests");
    const other = await requestFrom("127.0.0.2", "GET", `/s/${token}`, rotating(32));
    expect(other.status).toBe(200);
    expect(other.text).not.toContain("Too many requests");
    expect(other.text).toContain(`/api/circuits/${circuitId}/og?share=${token}`);
  });
});
