/**
 * The neuron-level hypertree as a full-width pane, in headless Chromium at 1400×900 on the
 * toy-world circuit computed by the engine: drilling from a top group opens the pane under the
 * graph across the page's width; labels are at least 12 px text, every neuron card shows its
 * strongest patch (drawn, at least 80 px), no two cards overlap; the cards match the stored
 * hypertree (parents, semantic groups with `layer · gN`, core neurons with their weights); a core
 * neuron marked ↓ goes down a layer, its parent card goes back up, and the path lists the walk.
 * Screenshot: docs/images/viewer-hypertree.png.
 */
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGraph, loadHypertree } from "~/server/circuits/graph";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, startPlatform, type Platform } from "./helpers";
import { clickNode, seedViewer, toyCircuit, signedInPage, waitForGraph } from "./viewerHelpers";

let platform: Platform;
let browser: Browser;
let page: Page;
let circuitId: number;
let graph: CircuitGraph;

beforeAll(async () => {
  const bee = await toyCircuit("bee");
  platform = await startPlatform();
  circuitId = (await seedViewer(platform, [bee]))[0]!.circuitId;
  graph = loadGraph(platform.db(), circuitId)!;
  browser = await launchBrowser();
  page = await signedInPage(browser, platform);
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
const overlap = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Sizes the reader sees: every card's box, every label's font size and box, every patch's drawn size. */
async function measure(p: Page) {
  return p.getByTestId("hypertree-canvas").evaluate((root) => {
    const box = (e: Element) => {
      const r = e.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const cards = [...root.querySelectorAll("[data-testid^='ht-']")].filter((e) =>
      ["ht-parent", "ht-self", "ht-sg", "ht-core", "ht-node"].includes(e.getAttribute("data-testid")!),
    );
    return {
      pane: box(root),
      cards: cards.map(box),
      labels: [...root.querySelectorAll("[data-testid='ht-label']")].map((e) => ({
        text: e.textContent ?? "",
        font: Number.parseFloat(getComputedStyle(e).fontSize),
        box: box(e),
      })),
      patches: [...root.querySelectorAll("img[data-testid='ht-patch']")].map((i) => ({
        drawn: (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0,
        box: box(i),
      })),
    };
  });
}

describe("hypertree pane", () => {
  it("is readable at 1400×900 and walks up and down the layers", async () => {
    await page.goto(`${platform.url}/circuits/${circuitId}/view`);
    await waitForGraph(page);
    const top = graph.groups.find((g) => g.layer === 0)!;
    await clickNode(page, `g${top.id}`);
    await page.getByTestId("detail-panel").waitFor();
    await page.getByTestId("drill").first().click();
    await page.getByTestId("ht-self").waitFor();
    const root = loadHypertree(platform.db(), circuitId, 0, top.members[0]!.neuron)!;

    // the pane spans the page, not the side panel
    const m = await measure(page);
    const viewerWidth = (await page.getByTestId("viewer").boundingBox())!.width;
    expect(m.pane.width).toBeGreaterThan(1000);
    expect(Math.abs(m.pane.width - viewerWidth)).toBeLessThan(30);
    // one card for the root, the neuron, each semantic group and each core neuron
    expect(m.cards.length).toBe(2 + root.semanticGroups.length + root.coreNeurons.length);
    for (let i = 0; i < m.cards.length; i++)
      for (let j = i + 1; j < m.cards.length; j++) expect(overlap(m.cards[i]!, m.cards[j]!)).toBe(false);
    expect(m.labels.length).toBe(1 + root.semanticGroups.length + root.coreNeurons.length);
    for (const l of m.labels) {
      expect(l.font).toBeGreaterThanOrEqual(12);
      expect(l.box.height).toBeGreaterThanOrEqual(12);
    }
    expect(m.labels.map((l) => l.text)).toContain(`fc:${root.neuron}`);
    // every card with a patch shows it drawn at ≥ 80 px (the lowest layer's core neurons have none)
    const withPatch =
      1 +
      root.semanticGroups.filter((s) => s.patches.length > 0).length +
      root.coreNeurons.filter((c) => c.topPatch != null).length;
    await expect
      .poll(async () => (await measure(page)).patches.filter((p) => p.drawn).length, { timeout: 15_000 })
      .toBe(withPatch);
    for (const p of (await measure(page)).patches) expect(p.box.width).toBeGreaterThanOrEqual(80);
    // semantic groups keep `layer · gN`; core neurons carry their importance and one W per semantic group
    const sgText = await page.getByTestId("ht-sg").allTextContents();
    for (const [i, s] of root.semanticGroups.entries()) {
      const g = graph.groups.find((x) => x.id === s.neuronGroup)!;
      expect(sgText[i]).toContain(`fc · g${g.groupId}`);
      expect(sgText[i]).toContain(`${s.patchCount} patches`);
    }
    const coreText = await page.getByTestId("ht-core").allTextContents();
    for (const [i, c] of root.coreNeurons.entries()) {
      expect(coreText[i]).toContain(`layer4.1:${c.neuron}`);
      expect(coreText[i]).toContain("importance");
      expect(coreText[i]!.match(/s\d+ -?\d/g)?.length).toBe(c.edges.length);
    }
    await page
      .getByTestId("hypertree")
      .screenshot({ path: join(ROOT, "docs", "images", "viewer-hypertree.png"), animations: "disabled" });

    // down one layer: a core neuron that is a target
    const down = root.coreNeurons.findIndex((c) => c.isTarget);
    expect(down).toBeGreaterThanOrEqual(0);
    const n = root.coreNeurons[down]!.neuron;
    await page.getByTestId("ht-core").nth(down).click();
    await page
      .getByTestId("ht-self")
      .filter({ hasText: `layer4.1:${n}` })
      .waitFor();
    const mid = loadHypertree(platform.db(), circuitId, 1, n)!;
    expect(await page.getByTestId("ht-parent").count()).toBe(mid.parents.length);
    expect(await page.getByTestId("ht-parent").first().textContent()).toContain(`fc:${root.neuron}`);
    expect(await page.getByTestId("ht-trail").textContent()).toContain(`fc:${root.neuron}→layer4.1:${n}`);
    const m2 = await measure(page);
    for (const l of m2.labels) expect(l.font).toBeGreaterThanOrEqual(12);
    // and back up through the parent card
    await page.getByTestId("ht-parent").first().click();
    await page
      .getByTestId("ht-self")
      .filter({ hasText: `fc:${root.neuron}` })
      .waitFor();
    expect(await page.getByTestId("ht-trail").count()).toBe(0);
    // a semantic group selects its neuron group in the graph
    await page.getByTestId("ht-sg").first().click();
    await expect
      .poll(() => page.getByTestId("panel-title").textContent())
      .toContain(`group ${graph.groups.find((x) => x.id === root.semanticGroups[0]!.neuronGroup)!.groupId}`);
  });
});
