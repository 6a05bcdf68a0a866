/**
 * The admin's worker page, end to end (production build, `next start`, headless Chromium, a real
 * worker process that reaches the platform only over HTTP): an admin creates a worker token on
 * /users (shown once, stored hashed), a worker started with it on "another machine" (no
 * NEURFLOW_DB) registers and shows in the list with its id, host, backend, the job it works on and
 * its heartbeat; the admin revokes the token, the worker is refused at its next call and stops,
 * and the list says so. Screenshot: docs/images/workers-admin.png.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { workerTokens } from "~/db/schema";
import { createContext } from "~/server/api/context";
import { createCaller } from "~/server/api/root";
import { createSession, hashToken, SESSION_COOKIE } from "~/server/auth/sessions";
import { loadGraph } from "~/server/circuits/graph";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, signIn, startPlatform, type Platform } from "./helpers";
import { seedViewer, toyCircuit } from "./viewerHelpers";

let platform: Platform;
let browser: Browser;
let page: Page;
let heatmapJobId: number;

beforeAll(async () => {
  const circuit = await toyCircuit("bee");
  platform = await startPlatform({ workers: 0 });
  const [seeded] = await seedViewer(platform, [circuit]);
  const db = platform.db();
  const { token } = createSession(
    db,
    db
      .select()
      .from((await import("~/db/schema")).users)
      .all()[0]!.id,
  );
  const admin = createCaller(
    createContext({
      db,
      queue: new SqliteJobQueue(db),
      storageRoot: platform.dataDir,
      headers: new Headers({ cookie: `${SESSION_COOKIE}=${token}` }),
      resHeaders: null,
    }),
  );
  // a job for the worker to be seen working on: the IG heatmaps of the group with the most patches
  const group = loadGraph(db, seeded!.circuitId)!.groups.sort((a, b) => b.patches.length - a.patches.length)[0]!;
  heatmapJobId = (await admin.heatmaps.request({ id: seeded!.circuitId, group: group.id })).jobId;
  browser = await launchBrowser();
  const ctx = await browser.newContext({ viewport: { width: 1300, height: 900 }, colorScheme: "light" });
  page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  await signIn(page, platform);
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

async function withOutput(f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- server and worker output ---\n${platform.output().slice(-6000)}`;
    throw e;
  }
}

/** Reloads /users until the worker row of `pid` says `text` (the page is rendered on the server: it shows what the database knows). */
async function waitForRow(pid: number, text: RegExp, ms = 120_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    await page.goto(`${platform.url}/users`);
    const row = page.getByTestId("worker-row").filter({ hasText: `:${pid}:` });
    if ((await row.count()) === 1) {
      const t = await row.innerText();
      if (text.test(t)) return t;
    }
    if (Date.now() > end) throw new Error(`the worker row of ${pid} never matched ${text}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));

describe("the admin's worker page", () => {
  it(
    "a token created on the page (shown once) lets a remote worker register; the list shows it working; revoking the token stops it at its next call",
    { timeout: 300_000 },
    () =>
      withOutput(async () => {
        await page.goto(`${platform.url}/users`);
        await page.getByTestId("no-workers").waitFor();
        const form = page.getByTestId("create-worker-token");
        await form.locator('input[name="worker-token-name"]').fill("gpu-box-1");
        await form.getByRole("button", { name: "Create token" }).click();
        const shown = page.getByTestId("new-worker-token");
        await shown.waitFor();
        expect(await shown.innerText()).toContain("Token for gpu-box-1 — shown only now");
        const token = (await shown.locator("code").innerText()).trim();
        expect(token).toMatch(/^nfw_[A-Za-z0-9_-]{43}$/);
        await page.getByTestId("worker-token-gpu-box-1").waitFor();
        // stored as its hash only; a reload does not show it again
        const rows = platform.db().select().from(workerTokens).all();
        expect(JSON.stringify(rows)).not.toContain(token.slice(4));
        expect(JSON.stringify(rows)).toContain(hashToken(token));
        await page.reload();
        expect(await page.getByTestId("new-worker-token").count()).toBe(0);
        expect(await page.content()).not.toContain(token);

        // a worker on "another machine": the platform's address and the token, no database
        const worker = platform.startWorker({
          NEURFLOW_DB: "",
          NEURFLOW_DATA: "",
          NEURFLOW_PLATFORM_URL: platform.url,
          NEURFLOW_WORKER_TOKEN: token,
          NEURFLOW_WORKER_CACHE: join(platform.dir, "worker-cache"),
          NEURFLOW_LEASE_MS: "3000",
        });
        const pid = worker.pid!;
        const startLine = /\[worker\] (\S+) started: backend (\S+)/;
        const end = Date.now() + 120_000;
        while (!startLine.test(platform.output())) {
          if (Date.now() > end || worker.exitCode !== null) throw new Error("the worker did not start");
          await new Promise((r) => setTimeout(r, 250));
        }
        const [, workerId = "", backend = ""] = startLine.exec(platform.output())!;
        expect(workerId).toContain(`:${pid}:`);

        // working on the heatmaps job, some of its patches done
        const working = await waitForRow(pid, new RegExp(`working\\s+heatmaps job ${heatmapJobId} · [1-9]\\d* %`));
        expect(working).toContain(workerId);
        expect(working).toContain(hostname());
        expect(working).toContain(backend);
        expect(working).toContain("gpu-box-1");
        const row = page.getByTestId("worker-row").filter({ hasText: `:${pid}:` });
        const cells = await row.locator("td").allInnerTexts();
        expect(cells.slice(0, 4)).toStrictEqual([workerId, hostname(), expect.stringContaining(backend), "working"]);
        expect(cells[4]).toMatch(new RegExp(`^heatmaps job ${heatmapJobId} · \\d+ %$`));
        expect(cells[5]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\s+\d+ s ago$/);
        expect(cells[6]).toBe("gpu-box-1");
        await page.getByTestId("workers-admin").screenshot({ path: join("docs", "images", "workers-admin.png") });

        // revoke: confirm the dialog; the worker is refused at its next call and stops (status 3)
        page.once("dialog", (d) => void d.accept());
        await page.getByTestId("worker-token-gpu-box-1").getByRole("button", { name: "Revoke" }).click();
        await page
          .getByTestId("worker-token-gpu-box-1")
          .getByText(/revoked/)
          .waitFor();
        expect(await exited(worker)).toBe(3);
        expect(platform.output()).toMatch(/the platform refused this worker's token \(.*revoked/);
        const revoked = await waitForRow(pid, /token revoked/);
        expect(revoked).toContain(workerId);
      }),
  );
});
