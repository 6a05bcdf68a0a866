/**
 * The evaluations page in headless Chromium on the toy-world circuit: results of every kind
 * computed by the platform's worker (tiny settings) are drawn as SVG plots with the right number
 * of bars / points, and each exports SVG, PNG and CSV; image debugging of uploaded images through
 * the form; a job started from the page shows live progress and is canceled from it; the viewer's
 * faithfulness figure is computed from its button and follows the threshold slider.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import sharp from "sharp";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluations, jobs } from "~/db/schema";
import { createContext } from "~/server/api/context";
import { createCaller } from "~/server/api/root";
import { createSession, SESSION_COOKIE } from "~/server/auth/sessions";
import { loadGraph } from "~/server/circuits/graph";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";
import type { DebugImagesResult, FaithfulnessResult } from "~/server/evaluations/compute";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import type {
  FidelityOfNeuronsResult,
  FidelityOfWeightsResult,
  GroupMaskingResult,
  OptimalityResult,
} from "~/server/neurflow";
import { FIXTURE_IMAGES } from "../helpers/fixtures";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, signIn, startPlatform, type Platform } from "./helpers";
import { seedViewer, toyCircuit, VIEWER_ADMIN, visible, waitForGraph } from "./viewerHelpers";

let platform: Platform;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let circuitId: number;
let graph: CircuitGraph;

type Caller = ReturnType<typeof createCaller>;

function resultOf<T>(kind: string): T {
  const row = platform
    .db()
    .select()
    .from(evaluations)
    .where(and(eq(evaluations.circuitId, circuitId), eq(evaluations.kind, kind as never)))
    .get();
  if (!row) throw new Error(`no ${kind} result`);
  return row.result as T;
}

async function waitForJobs(ids: number[], timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rows = ids.map((id) => platform.db().select().from(jobs).where(eq(jobs.id, id)).get()!);
    if (rows.every((r) => r.status === "succeeded")) return;
    const bad = rows.find((r) => r.status === "failed" || r.status === "canceled");
    if (bad) throw new Error(`job ${bad.id} ${bad.status}: ${bad.error}\n${platform.output().slice(-3000)}`);
    if (Date.now() > until) throw new Error(`jobs not done in time\n${platform.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  const circuit = await toyCircuit("bee");
  platform = await startPlatform({ workers: 1 });
  const [seeded] = await seedViewer(platform, [circuit]);
  circuitId = seeded!.circuitId;
  graph = loadGraph(platform.db(), circuitId)!;
  const db = platform.db();
  const userId = db
    .select()
    .from((await import("~/db/schema")).users)
    .all()[0]!.id;
  const { token } = createSession(db, userId);
  const admin: Caller = createCaller(
    createContext({
      db,
      queue: new SqliteJobQueue(db),
      storageRoot: platform.dataDir,
      headers: new Headers({ cookie: `${SESSION_COOKIE}=${token}` }),
      resHeaders: null,
    }),
  );
  // one stored result of every plotted kind, computed by the platform's worker with tiny settings
  const group = circuit.layers[1]!.neuronGroups[0]!.id;
  const requests = [
    { kind: "optimality", params: { pairs: [1, 2], taus: [2, 3], targets: 1, randomSets: 3, k: 12 } },
    { kind: "fidelityOfNeurons", params: { taus: [2, 3], draws: 1 } },
    { kind: "fidelityOfWeights", params: { pairs: [1, 2], setSizes: [1, 2, 3], randomSets: 3, k: 12 } },
    { kind: "groupMasking", params: { layerIndex: 1, groups: [group], draws: 1, topPatches: 3 } },
  ] as const;
  const ids: number[] = [];
  for (const request of requests)
    ids.push((await admin.evaluations.start({ circuitId, request: request as never })).jobId);
  await waitForJobs(ids);
  browser = await launchBrowser();
  ctx = await browser.newContext({
    viewport: { width: 1400, height: 1000 },
    colorScheme: "light",
    acceptDownloads: true,
  });
  page = await ctx.newPage();
  await signIn(page, platform, VIEWER_ADMIN);
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

async function exportsOf(card: string, expectedCsvRows: number, kind: string): Promise<void> {
  const box = page.getByTestId(card);
  const svgEl = box.locator("svg").first();
  const viewBox = (await svgEl.getAttribute("viewBox"))!.split(" ").map(Number);
  const [svgDl] = await Promise.all([page.waitForEvent("download"), box.getByTestId("export-svg").click()]);
  expect(svgDl.suggestedFilename()).toMatch(new RegExp(`-${kind}-\\d+\\.svg$`));
  const svg = readFileSync((await svgDl.path())!, "utf8");
  expect(svg.startsWith("<?xml")).toBe(true);
  expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
  // a standalone document that an image decoder reads at the plot's size
  const meta = await sharp(Buffer.from(svg)).metadata();
  expect([meta.width, meta.height]).toEqual([viewBox[2], viewBox[3]]);
  const [pngDl] = await Promise.all([page.waitForEvent("download"), box.getByTestId("export-png").click()]);
  const png = readFileSync((await pngDl.path())!);
  expect(png.subarray(1, 4).toString()).toBe("PNG");
  const pm = await sharp(png).metadata();
  expect([pm.width, pm.height]).toEqual([viewBox[2]! * 2, viewBox[3]! * 2]);
  const [csvDl] = await Promise.all([page.waitForEvent("download"), box.getByTestId("export-csv").click()]);
  const lines = readFileSync((await csvDl.path())!, "utf8")
    .trim()
    .split("\n");
  expect(lines.length).toBe(1 + expectedCsvRows);
}

describe("evaluations page", () => {
  it("is linked from the viewer and draws every stored result", async () => {
    await page.goto(`${platform.url}/circuits/${circuitId}/view`);
    await page.getByTestId("open-evaluations").click();
    await page.waitForURL((u) => u.pathname === `/circuits/${circuitId}/evaluations`);

    const opt = resultOf<OptimalityResult>("optimality");
    expect(opt.cells.length).toBe(4);
    const optCard = page.getByTestId("plotcard-optimality");
    expect(await optCard.getByTestId("opt-bar").count()).toBe(opt.cells.length);
    expect(await optCard.getByTestId("opt-ci").count()).toBe(opt.cells.length);
    expect(await optCard.getByTestId("opt-count").allTextContents()).toEqual(
      opt.cells.map((c) => String(c.randomBeatsCore)),
    );

    const fon = resultOf<FidelityOfNeuronsResult>("fidelityOfNeurons");
    const fonCard = page.getByTestId("plotcard-fidelityOfNeurons");
    expect(await fonCard.getByTestId("fon-panel").count()).toBe(4);
    expect(await fonCard.getByTestId("fon-core-point").count()).toBe(fon.curves.length * fon.layers.length);
    expect(await fonCard.getByTestId("fon-baseline-point").count()).toBe(fon.curves.length * fon.layers.length);

    const fow = resultOf<FidelityOfWeightsResult>("fidelityOfWeights");
    const points = fow.pairs.reduce((a, p) => a + p.summary.length, 0);
    expect(points).toBeGreaterThanOrEqual(4);
    expect(await page.getByTestId("plotcard-fidelityOfWeights").getByTestId("fow-point").count()).toBe(points);

    const mask = resultOf<GroupMaskingResult>("groupMasking");
    const maskCard = page.getByTestId("plotcard-groupMasking");
    expect(await maskCard.getByTestId("mask-bar").count()).toBe(3 * (mask.before.length + 1));
    expect(await page.getByTestId("drop-patch").count()).toBe(3);
    await expect
      .poll(
        () =>
          page
            .getByTestId("drop-patch")
            .locator("img")
            .evaluateAll((imgs) =>
              imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth === 64),
            ),
        { timeout: 15_000 },
      )
      .toBe(true);
  });

  it("exports each plot as SVG, PNG and CSV", async () => {
    // each plot from a fresh page load, as a person exports one plot at a time: Chromium throttles
    // a page that starts many downloads in a row (the tenth and later may never arrive)
    const fresh = () => page.reload();
    const opt = resultOf<OptimalityResult>("optimality");
    await exportsOf("plotcard-optimality", opt.cells.length, "optimality");
    const fon = resultOf<FidelityOfNeuronsResult>("fidelityOfNeurons");
    await fresh();
    await exportsOf("plotcard-fidelityOfNeurons", fon.curves.length * fon.layers.length, "fidelity-of-neurons");
    const fow = resultOf<FidelityOfWeightsResult>("fidelityOfWeights");
    await fresh();
    await exportsOf(
      "plotcard-fidelityOfWeights",
      fow.pairs.reduce((a, p) => a + p.summary.length, 0),
      "fidelity-of-weights",
    );
    const mask = resultOf<GroupMaskingResult>("groupMasking");
    await fresh();
    await exportsOf("plotcard-groupMasking", mask.before.length + 1, "masking");
  });

  it("debugs uploaded images: per image its top groups with mosaics and its best crops", async () => {
    const files = ["bee", "ladybug"].map((c) =>
      join(FIXTURE_IMAGES, c, readdirSync(join(FIXTURE_IMAGES, c)).sort()[0]!),
    );
    const section = page.getByTestId("section-imageDebug");
    await section.getByTestId("debug-files").setInputFiles(files);
    await section.getByTestId("form-imageDebug").getByRole("button", { name: "Upload and debug" }).click();
    await expect.poll(() => section.getByTestId("debug-image").count(), { timeout: 120_000, interval: 500 }).toBe(2);
    const r = resultOf<DebugImagesResult>("imageDebug");
    expect(r.names).toEqual(files.map((f) => f.split("/").pop()));
    const groupsShown = Math.min(3, (r.images[0] as { groups: unknown[] }).groups.length);
    expect(await section.getByTestId("debug-group").count()).toBe(2 * groupsShown);
    expect(await section.getByTestId("debug-crop").count()).toBe(2 * groupsShown * 5);
    // the stored images and mosaics load
    await expect
      .poll(
        () =>
          section
            .locator("img")
            .evaluateAll((imgs) =>
              imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0),
            ),
        { timeout: 15_000 },
      )
      .toBe(true);
    const res = await page.request.get(`${platform.url}/api/circuits/${circuitId}/evaluation-images/${r.set}/0`);
    expect(res.status()).toBe(200);
    expect(res.headers()["content-type"]).toBe("image/png");
    const anon = await browser.newContext();
    expect(
      (await anon.request.get(`${platform.url}/api/circuits/${circuitId}/evaluation-images/${r.set}/0`)).status(),
    ).toBe(401);
    await anon.close();
  });

  it("shows a started job's live progress and cancels it", async () => {
    const section = page.getByTestId("section-optimality");
    await section.locator("summary").click();
    const form = section.getByTestId("form-optimality");
    // a bad value: the server's rule shows under this form, naming the field
    const taus = form.locator('input[name="taus"]');
    const defaults = await taus.inputValue();
    await taus.fill("abc");
    await form.getByRole("button", { name: "Start" }).click();
    expect(await section.getByTestId("start-error-optimality").textContent()).toMatch(/^taus: /);
    await taus.fill(defaults);
    await form.locator("label", { hasText: "Random sets" }).locator("input").fill("1000");
    await form.locator("label", { hasText: "k (top patches)" }).locator("input").fill("12");
    await form.getByRole("button", { name: "Start" }).click();
    const job = page.getByTestId("evaluation-job").first();
    await expect.poll(() => job.getAttribute("data-status"), { timeout: 60_000 }).toBe("running");
    await expect
      .poll(async () => Number((await job.getByTestId("job-progress").textContent())!.replace("%", "")), {
        timeout: 120_000,
        interval: 300,
      })
      .toBeGreaterThan(0);
    await job.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => job.getAttribute("data-status"), { timeout: 60_000 }).toBe("canceled");
  });
});

describe("the viewer's faithfulness figure", () => {
  it("computes on request and follows the threshold slider with the viewer's visible groups", async () => {
    await page.goto(`${platform.url}/circuits/${circuitId}/view`);
    await waitForGraph(page);
    await page.getByTestId("faithfulness-compute").click();
    await page.getByTestId("faithfulness-value").waitFor({ timeout: 120_000 });
    const f = resultOf<FaithfulnessResult>("faithfulness");
    expect(f.series.global).toHaveLength(101);
    const at = async (t: number) => f.configs[f.series.global.find((p) => p.threshold === t)!.config]!;
    expect(await page.getByTestId("faithfulness-value").textContent()).toBe((await at(0)).logitRetained!.toFixed(2));
    for (const t of [0.35, 0.7]) {
      await page.getByTestId("threshold").fill(String(t));
      const c = await at(t);
      await expect
        .poll(() => page.getByTestId("faithfulness").getAttribute("data-value"))
        .toBe(String(c.logitRetained));
      // the groups it counts are the ones the canvas shows
      const shown = (await visible(page)).nodes.filter((n) => n !== "logit").length;
      expect(Number(await page.getByTestId("faithfulness").getAttribute("data-groups"))).toBe(shown);
      expect(c.groups.length).toBe(shown);
    }
    expect(graph.groups.length).toBeGreaterThan(0);

    // and on the evaluations page: one point per threshold, with its exports (CSV: both threshold modes)
    await page.goto(`${platform.url}/circuits/${circuitId}/evaluations`);
    expect(await page.getByTestId("plotcard-faithfulness").getByTestId("faith-point").count()).toBe(
      f.series.global.length,
    );
    await exportsOf("plotcard-faithfulness", f.series.global.length + f.series.perLayer.length, "faithfulness");
    await page.screenshot({ path: join(ROOT, "docs", "images", "evaluations.png"), fullPage: true });
  });
});
