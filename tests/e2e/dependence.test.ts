/**
 * The class-dependence report in Chromium on the real platform: the demo's flowers model
 * (models/toyworld5) and its cue-free control (models/toyworld5-control), each with a bee circuit
 * of the demo's settings on the same ten world-5 bees; the other classes' images come from a probe
 * dataset in which flowers stand beside half of every other class's objects (so a model that
 * learned "flowers → bee" has false positives to be caught by), six per class. The report is
 * started from the page and computed by the worker with the default 200 random sets. On the flowers
 * model the top-ranked group is a flowers group (measured: whole-image metric M on bees with vs
 * without their flowers, AUROC ≥ 0.9), its interval lies above the random sets', and it is flagged
 * as a bias candidate with its patches; on the control no flowers group is ranked first or flagged.
 * The newest report rides along in the circuit's JSON export.
 */
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseClassDependence } from "~/server/neurflow/light";
import { readWorld } from "~/server/toyworld/check";
import { generateDataset } from "~/server/toyworld/dataset";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, signIn, startPlatform, type Platform } from "./helpers";
import { beeCircuit, beeFiles, CONTROL, FLOWERS, flowersAuroc, seedToyworld5 } from "./toyworld5Seed";
import { VIEWER_ADMIN } from "./viewerHelpers";

const SHOTS = join(ROOT, "docs", "images");
let platform: Platform;
let browser: Browser;
let page: Page;
let probe: number;
const circuits: Record<"flowers" | "control", { id: number; flowers: Map<string, number> }> = {} as never;

beforeAll(async () => {
  platform = await startPlatform({ workers: 1 });
  const seeded = await seedToyworld5(platform, 10);
  const dir = join(platform.dir, "probe");
  await generateDataset({
    out: dir,
    perClass: 6,
    seed: 8,
    world: { ...readWorld(FLOWERS), cueRateElsewhere: 0.5 },
    quiet: true,
  });
  probe = (await seeded.admin.datasets.registerFolder({ name: "probe: flowers beside other classes", path: dir })).id;
  const bees = beeFiles(seeded);
  for (const [key, modelDir, modelId] of [
    ["flowers", FLOWERS, seeded.flowersModel],
    ["control", CONTROL, seeded.controlModel],
  ] as const) {
    const c = await beeCircuit(platform, seeded, modelDir, modelId, bees);
    circuits[key] = { id: c.circuitId, flowers: await flowersAuroc(c.circuit, modelDir) };
  }
  browser = await launchBrowser();
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, colorScheme: "light" });
  page = await ctx.newPage();
  await signIn(page, platform, VIEWER_ADMIN);
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

/** Starts the report from the page (probe dataset, 6 per class, 200 draws) and waits for it. */
async function report(circuitId: number): Promise<void> {
  await page.goto(`${platform.url}/circuits/${circuitId}/dependence`);
  await page.getByTestId("no-results-classDependence").waitFor();
  expect(await page.getByTestId("dep-draws").inputValue()).toBe("200");
  await page.getByTestId("dep-per-class").fill("6");
  await page.getByTestId("dep-dataset").selectOption(String(probe));
  await page.getByTestId("dep-start").click();
  // progress while it runs, then the report
  await page.getByTestId("dep-job").first().waitFor({ timeout: 30_000 });
  await page.getByTestId("dep-report").waitFor({ timeout: 600_000 });
}

interface Row {
  rank: number;
  layer: string;
  group: number;
  low: number;
  randomHigh: number;
  bias: boolean;
}

async function rows(): Promise<Row[]> {
  return page.getByTestId("dep-row").evaluateAll((els) =>
    els.map((e) => ({
      rank: Number(e.getAttribute("data-rank")),
      layer: e.getAttribute("data-layer")!,
      group: Number(e.getAttribute("data-group")),
      low: Number(e.getAttribute("data-low")),
      randomHigh: Number(e.getAttribute("data-random-high")),
      bias: e.getAttribute("data-bias") === "1",
    })),
  );
}

describe("class-dependence report", () => {
  it("ranks the flowers group of the flowers model first, its interval above the random sets, flagged", async () => {
    const { id, flowers } = circuits.flowers;
    await report(id);
    const ranked = await rows();
    expect(ranked.length).toBeGreaterThan(1);
    const top = ranked.find((r) => r.rank === 1)!;
    expect(flowers.get(`${top.layer}:${top.group}`)).toBeGreaterThanOrEqual(0.9);
    // the whole interval excludes the random sets' interval
    expect(top.low).toBeGreaterThan(top.randomHigh);
    expect(top.bias).toBe(true);
    expect(await page.getByTestId("dep-interval").count()).toBe(ranked.length);
    expect(await page.getByTestId("dep-random").count()).toBe(ranked.length);
    // its card: the badge, its concept patches drawn, the false positives it explains
    const card = page.locator(`[data-testid="dep-card"][data-layer="${top.layer}"][data-group="${top.group}"]`);
    await card.getByTestId("bias-badge").waitFor();
    await expect
      .poll(() =>
        card
          .getByTestId("dep-patch")
          .evaluateAll((imgs) => imgs.length > 0 && imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0)),
      )
      .toBe(true);
    expect(await card.getByTestId("dep-explains").textContent()).toMatch(/Explains \d+ false positive/);
    // the false positives it explains, as pictures (the report's image set, model input size)
    const fps = card.locator('[data-testid="dep-fp"][data-assigned="1"] img');
    expect(await fps.count()).toBeGreaterThan(0);
    await expect
      .poll(() => fps.evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth === 64)))
      .toBe(true);
    expect(await page.getByTestId("dep-summary").textContent()).toContain("200 random sets");
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(SHOTS, "evaluations-dependence.png"), fullPage: true });
    // the JSON export carries the report, valid under the engine's schema
    const res = await page.request.get(`${platform.url}/api/circuits/${id}/export`);
    expect(res.status()).toBe(200);
    const doc = (await res.json()) as { classDependence?: { report: unknown } };
    const parsed = parseClassDependence(doc.classDependence!.report);
    expect(parsed.groups[0]!.layer).toBe(top.layer);
    expect(parsed.groups[0]!.groupId).toBe(top.group);
  }, 700_000);

  it("does not show it on the cue-free control", async () => {
    const { id, flowers } = circuits.control;
    await report(id);
    const ranked = await rows();
    expect(ranked.length).toBeGreaterThan(0);
    const top = ranked.find((r) => r.rank === 1)!;
    expect(flowers.get(`${top.layer}:${top.group}`)).toBeLessThan(0.9);
    expect(ranked.filter((r) => r.bias && flowers.get(`${r.layer}:${r.group}`)! >= 0.9)).toEqual([]);
  }, 700_000);
});
