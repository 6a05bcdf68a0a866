/**
 * The faithfulness curve in headless Chromium on a demo-like circuit (the toy-world model, class
 * bee, τ 3, k 20, N 8, layers fc → layer3.1, all sixteen bee images, as `npm run demo` queues it):
 * computed from the viewer's button by the platform's worker, drawn with a point per threshold over
 * the whole range, the random band and the current threshold's marker (read from the DOM and
 * checked against the stored result); the marker follows the slider; the per-layer threshold mode
 * changes the graph, the curve and the address, and a share link keeps it.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluations } from "~/db/schema";
import { type ThresholdMode, visibleGroupIds } from "~/lib/circuits/visibility";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";
import type { FaithfulnessResult } from "~/lib/evaluations/faithfulness";
import { loadGraph } from "~/server/circuits/graph";
import type { Circuit } from "~/server/neurflow/light";
import { createShareLink } from "~/server/share/links";
import { FIXTURE, FIXTURE_IMAGES } from "../helpers/fixtures";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, startPlatform, type Platform } from "./helpers";
import { seedViewer, TOY_LAYERS, signedInPage, visible, waitForGraph } from "./viewerHelpers";

const SHOTS = join(ROOT, "docs", "images");
let platform: Platform;
let browser: Browser;
let page: Page;
let circuitId: number;
let graph: CircuitGraph;

/** The demo's bee circuit on the fixture model: τ 3, k 20, N 8, every bee image. */
async function demoLikeCircuit(): Promise<Circuit> {
  const { buildCircuit } = await import("~/server/neurflow");
  const dir = join(FIXTURE_IMAGES, "bee");
  const images = readdirSync(dir)
    .sort()
    .map((f) => join(dir, f));
  return buildCircuit(
    {
      manifestPath: join(FIXTURE, "manifest.json"),
      images,
      className: "bee",
      layers: TOY_LAYERS,
      params: { tau: 3, k: 20, igSteps: 8 },
    },
    {},
  );
}

function stored(): FaithfulnessResult {
  const row = platform
    .db()
    .select()
    .from(evaluations)
    .where(and(eq(evaluations.circuitId, circuitId), eq(evaluations.kind, "faithfulness")))
    .get();
  if (!row) throw new Error("no faithfulness result");
  return row.result as FaithfulnessResult;
}

const configAt = (f: FaithfulnessResult, t: number, mode: ThresholdMode) =>
  f.configs[f.series[mode].find((p) => p.threshold === t)!.config]!;

/** Numbers of an SVG `points` attribute as [x, y] pairs. */
const pairs = (points: string) =>
  points
    .trim()
    .split(/\s+/)
    .map((p) => p.split(",").map(Number));

beforeAll(async () => {
  const circuit = await demoLikeCircuit();
  platform = await startPlatform({ workers: 1 });
  const [seeded] = await seedViewer(platform, [circuit]);
  circuitId = seeded!.circuitId;
  graph = loadGraph(platform.db(), circuitId)!;
  browser = await launchBrowser();
  page = await signedInPage(browser, platform, { width: 1400, height: 1000 });
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

describe("the faithfulness curve in the viewer", () => {
  it("is computed on request and drawn over the whole range with the random band and the threshold marked", async () => {
    await page.goto(`${platform.url}/circuits/${circuitId}/view?t=0.3`);
    await waitForGraph(page);
    await page.getByTestId("faithfulness-compute").click();
    await page.getByTestId("faithfulness-value").waitFor({ timeout: 300_000 });
    const f = stored();
    expect(f.version).toBe(2);
    expect(f.draws).toBe(50);
    const c = configAt(f, 0.3, "global");
    expect(await page.getByTestId("faithfulness-value").textContent()).toBe(c.logitRetained!.toFixed(2));
    expect(await page.getByTestId("faithfulness-random").textContent()).toContain(
      `${c.random!.mean.toFixed(2)} [${c.random!.low.toFixed(2)}, ${c.random!.high.toFixed(2)}]`,
    );

    await page.getByTestId("faithfulness-curve-toggle").click();
    const plot = page.getByTestId("faithfulness-curve");
    await plot.waitFor();
    // a point per slider threshold, from 0 to 1, at the stored values
    const points = plot.getByTestId("faith-point");
    expect(await points.count()).toBe(101);
    const drawn = await points.evaluateAll((els) =>
      els.map((e) => ({ t: Number(e.getAttribute("data-threshold")), v: Number(e.getAttribute("data-value")) })),
    );
    expect(drawn[0]!.t).toBe(0);
    expect(drawn.at(-1)!.t).toBe(1);
    for (const d of drawn) expect(d.v).toBeCloseTo(configAt(f, d.t, "global").logitRetained!, 12);
    // the random band: upper edge then lower edge, one vertex per threshold each, low ≤ high
    const band = pairs((await plot.getByTestId("faith-random-band").getAttribute("points"))!);
    expect(band).toHaveLength(2 * 101);
    for (let i = 0; i < 101; i++) expect(band[i]![1]!).toBeLessThanOrEqual(band[2 * 101 - 1 - i]![1]! + 1e-9);
    // the marker at the current threshold, on the curve's value there
    const marker = plot.getByTestId("faith-marker");
    expect(Number(await marker.getAttribute("data-threshold"))).toBe(0.3);
    expect(Number(await marker.getAttribute("data-value"))).toBeCloseTo(c.logitRetained!, 12);
    // where the kept neurons change: one mark per run of thresholds with the same neurons
    const runs: string[] = [];
    for (const p of f.series.global) {
      const key = f.configs[p.config]!.neurons.join(",");
      if (runs.at(-1) !== key) runs.push(key);
    }
    const segs = await plot
      .getByTestId("faith-segment")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-neurons")));
    expect(segs).toEqual(runs);
    // when no threshold changes the kept neurons, the panel says so
    expect(await page.getByTestId("faithfulness-flat").count()).toBe(runs.length === 1 ? 1 : 0);
    // it tells the circuit from chance: at threshold 0 the circuit keeps more than every random draw of its size
    const all = configAt(f, 0, "global");
    expect(all.random!.atLeast).toBe(0);
    expect(all.logitRetained!).toBeGreaterThan(all.random!.high);
    await page.screenshot({ path: join(SHOTS, "viewer-faithfulness-curve.png") });

    // the marker follows the slider
    await page.getByTestId("threshold").fill("0.62");
    await expect.poll(() => marker.getAttribute("data-threshold")).toBe("0.62");
    expect(Number(await marker.getAttribute("data-value"))).toBeCloseTo(configAt(f, 0.62, "global").logitRetained!, 12);
  });

  it("per-layer thresholds change the graph, the curve and the address; a share link keeps the mode", async () => {
    const f = stored();
    await page.getByTestId("threshold").fill("0.8");
    await page.getByTestId("threshold-mode").selectOption("perLayer");
    await page.waitForURL((u) => u.searchParams.get("tm") === "layer" && u.searchParams.get("t") === "0.8");
    const shownPerLayer = (await visible(page)).nodes.filter((n) => n !== "logit").length;
    expect(shownPerLayer).toBe(visibleGroupIds(graph, 0.8, "perLayer").length);
    expect(Number(await page.getByTestId("faithfulness").getAttribute("data-groups"))).toBe(shownPerLayer);
    const c = configAt(f, 0.8, "perLayer");
    await expect.poll(() => page.getByTestId("faithfulness").getAttribute("data-value")).toBe(String(c.logitRetained));
    const plot = page.getByTestId("faithfulness-curve");
    await expect.poll(() => plot.locator("svg").getAttribute("aria-label")).toContain("per layer");
    const marker = plot.getByTestId("faith-marker");
    expect(Number(await marker.getAttribute("data-value"))).toBeCloseTo(c.logitRetained!, 12);
    // per layer, every rank keeps its strongest edge at any threshold: the lowest rank is still drawn
    const lowest = Math.max(...graph.groups.map((g) => g.layer));
    const shownIds = new Set((await visible(page)).nodes);
    expect(graph.groups.some((g) => g.layer === lowest && shownIds.has(`g${g.id}`))).toBe(true);
    // the graph itself, with the curve closed
    await page.getByTestId("faithfulness-curve-toggle").click();
    await plot.waitFor({ state: "detached" });
    await page.screenshot({ path: join(SHOTS, "viewer-threshold-per-layer.png") });

    // reload: the address keeps the mode
    await page.reload();
    await waitForGraph(page);
    expect(await page.getByTestId("threshold-mode").inputValue()).toBe("perLayer");

    // a share link with the per-layer mode opens in it
    const { token } = createShareLink(platform.db(), {
      circuitId,
      viewState: { selected: null, threshold: 0.8, thresholdMode: "perLayer", zoom: null, pan: null, heatmaps: false },
      createdBy: null,
      expiresAt: null,
    });
    const anon = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const p2 = await anon.newPage();
    await p2.goto(`${platform.url}/s/${token}`);
    await waitForGraph(p2);
    expect(await p2.getByTestId("threshold-mode").inputValue()).toBe("perLayer");
    expect((await visible(p2)).nodes.filter((n) => n !== "logit").length).toBe(shownPerLayer);
    await anon.close();
  });
});

describe("the circuit's pages in the user's words", () => {
  it("the optimality form proposes the circuit's τ; the summary names the class, layer entries and the importance", async () => {
    await page.goto(`${platform.url}/circuits/${circuitId}/evaluations`);
    const form = page.locator("#optimality");
    await form.locator("summary").first().click();
    expect(await form.locator('input[name="taus"]').inputValue()).toBe("3, 6");
    await page.goto(`${platform.url}/circuits/${circuitId}`);
    await page.getByTestId("circuit-labels").waitFor();
    const text = (await page.locator("main").textContent()) ?? "";
    expect(text).toContain("class “bee”");
    expect(text).not.toContain("class index");
    expect(text).not.toContain("layer entry");
    expect(text).toContain("|mean IG| over the target's top patches");
    expect(text).toContain("the class logit's concept groups (core neurons in layer4.1)");
  });
});

describe("the faithfulness curve on the evaluations page", () => {
  it("draws both modes of the stored curve", async () => {
    const f = stored();
    await page.goto(`${platform.url}/circuits/${circuitId}/evaluations`);
    const card = page.getByTestId("plotcard-faithfulness");
    await card.waitFor();
    expect(await card.getByTestId("faith-point").count()).toBe(f.series.global.length);
    expect(await card.getByTestId("faith-marker").count()).toBe(0);
    await page.getByTestId("faith-mode-perLayer").check();
    await expect.poll(() => card.locator("svg").getAttribute("aria-label")).toContain("per layer");
    const values = await card
      .getByTestId("faith-point")
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-value"))));
    expect(values).toHaveLength(f.series.perLayer.length);
    values.forEach((v, i) => expect(v).toBeCloseTo(f.configs[f.series.perLayer[i]!.config]!.logitRetained!, 12));
    await page.getByTestId("faith-mode-global").check();
    await card.screenshot({ path: join(SHOTS, "evaluations-faithfulness.png") });
  });
});
