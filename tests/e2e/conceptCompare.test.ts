/**
 * Compare by concept in Chromium on the real platform: the demo's flowers model (models/toyworld5)
 * against its cue-free control (models/toyworld5-control), each with a bee circuit of the demo's
 * settings on the same ten world-5 bees. The concept match is computed by the worker from the
 * page's button; the flowers group (the flowers model's group whose metric M best tells bees with
 * flowers from the same bees without, AUROC ≥ 0.9) is named present in the flowers model and
 * absent in the control. The positive check: against a second circuit of the flowers model (ten
 * other bees), the same group is found present in both — so "absent" is the match's answer, not
 * its default.
 */
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, signIn, startPlatform, type Platform } from "./helpers";
import { beeCircuit, beeFiles, CONTROL, FLOWERS, flowersAuroc, seedToyworld5 } from "./toyworld5Seed";
import { VIEWER_ADMIN } from "./viewerHelpers";

const SHOTS = join(ROOT, "docs", "images");
let platform: Platform;
let browser: Browser;
let page: Page;
let flowers: number;
let control: number;
let flowersOther: number;
/** The flowers model's flowers group: layer and group id, and its AUROC. */
let flowerGroup: { layer: string; groupId: number; auroc: number };

beforeAll(async () => {
  platform = await startPlatform({ workers: 1 });
  const seeded = await seedToyworld5(platform, 20);
  const bees = beeFiles(seeded);
  const f = await beeCircuit(platform, seeded, FLOWERS, seeded.flowersModel, bees.slice(0, 10));
  flowers = f.circuitId;
  control = (await beeCircuit(platform, seeded, CONTROL, seeded.controlModel, bees.slice(0, 10))).circuitId;
  flowersOther = (await beeCircuit(platform, seeded, FLOWERS, seeded.flowersModel, bees.slice(10, 20))).circuitId;
  const au = [...(await flowersAuroc(f.circuit, FLOWERS))].sort((x, y) => y[1] - x[1]);
  const [key, value] = au[0]!;
  flowerGroup = { layer: key.split(":")[0]!, groupId: Number(key.split(":")[1]), auroc: value };
  browser = await launchBrowser();
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, colorScheme: "light" });
  page = await ctx.newPage();
  await signIn(page, platform, VIEWER_ADMIN);
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

async function computeMatch(a: number, b: number): Promise<void> {
  await page.goto(`${platform.url}/circuits/compare?a=${a}&b=${b}`);
  expect(await page.getByTestId("concept-summary").textContent()).toContain("not computed yet");
  await page.getByTestId("concept-start").click();
  await page.getByTestId("concept-table-a").waitFor({ timeout: 180_000 });
}

const row = (side: "a" | "b", layer: string, group: number) =>
  page.locator(`[data-testid="concept-row"][data-side="${side}"][data-layer="${layer}"][data-group="${group}"]`);

describe("compare by concept", () => {
  it("names the flowers group present in the flowers model and absent in the control", async () => {
    expect(flowerGroup.auroc).toBeGreaterThanOrEqual(0.9);
    await computeMatch(flowers, control);
    // two models: the page says what it matches by, and does not offer neuron ids
    expect(await page.getByTestId("concept-summary").textContent()).toContain("Matched by concept");
    expect(await page.getByTestId("mode-neurons-off").textContent()).toContain("different models");
    const r = row("a", flowerGroup.layer, flowerGroup.groupId);
    expect(await r.getAttribute("data-matched")).toBe("0");
    expect(Number(await r.getAttribute("data-strength"))).toBeLessThan(0.5);
    expect(await r.getByTestId("concept-verdict").textContent()).toContain("only in the left circuit");
    // every group of the control is listed with its best match and strength
    const rowsB = page.locator('[data-testid="concept-row"][data-side="b"]');
    expect(await rowsB.count()).toBeGreaterThan(0);
    for (const s of await rowsB.evaluateAll((els) => els.map((e) => e.getAttribute("data-strength"))))
      expect(Number.isFinite(Number(s))).toBe(true);
    // the graphs mark it: the flowers group's node is "specific" on the left
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(SHOTS, "viewer-concept-compare.png"), fullPage: true });
  }, 300_000);

  it("finds the same group present in another circuit of the flowers model", async () => {
    await computeMatch(flowers, flowersOther);
    const r = row("a", flowerGroup.layer, flowerGroup.groupId);
    expect(await r.getAttribute("data-matched")).toBe("1");
    expect(Number(await r.getAttribute("data-strength"))).toBeGreaterThanOrEqual(0.5);
    expect(await r.getByTestId("concept-verdict").textContent()).toContain("present in both");
    // one model: member neurons are offered as the second signal
    await page.getByTestId("mode-neurons").click();
    await page.waitForURL((u) => u.searchParams.get("by") === "neurons");
    expect(await page.getByTestId("compare-summary").textContent()).toContain("Matched by member neurons");
  }, 300_000);
});
