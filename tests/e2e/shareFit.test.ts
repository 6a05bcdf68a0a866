/**
 * Share links fit the visitor's screen, in headless Chromium: a signed-in user at 1400×900 selects
 * a group, sets a threshold, zooms into a corner and creates a link from the Share dialog. Opened
 * at 390×844 (a phone) the link keeps the selection and the threshold but fits the whole graph
 * into the canvas (every visible node inside Cytoscape's extent) instead of replaying the zoom
 * and pan; opened on a screen like the sharer's it replays them. Screenshot:
 * docs/images/viewer-share-phone.png.
 */
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGraph } from "~/server/circuits/graph";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, signIn, startPlatform, type Platform } from "./helpers";
import { clickNode, seedViewer, selectedNode, toyCircuit, VIEWER_ADMIN, visible, waitForGraph } from "./viewerHelpers";

let platform: Platform;
let browser: Browser;
let circuitId: number;
let graph: CircuitGraph;

beforeAll(async () => {
  const bee = await toyCircuit("bee");
  platform = await startPlatform();
  circuitId = (await seedViewer(platform, [bee]))[0]!.circuitId;
  graph = loadGraph(platform.db(), circuitId)!;
  browser = await launchBrowser();
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

/** Cytoscape's viewport and the visible nodes' box (model coordinates, labels left out). */
function viewport(page: Page) {
  return page.evaluate(() => {
    const cy = window.__viewerCy!;
    const ext = cy.extent();
    const nodes = cy.nodes().filter((n) => !n.hasClass("hidden"));
    const bb = nodes.boundingBox({ includeLabels: false });
    return {
      zoom: cy.zoom(),
      pan: cy.pan(),
      width: cy.width(),
      extent: { x1: ext.x1, y1: ext.y1, x2: ext.x2, y2: ext.y2 },
      nodes: { x1: bb.x1, y1: bb.y1, x2: bb.x2, y2: bb.y2 },
      count: nodes.length,
    };
  });
}

describe("share links on another screen", () => {
  it("keep selection and threshold and fit the whole graph at 390 px; replay zoom and pan on the same screen", async () => {
    const sharer = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "light" });
    const page = await sharer.newPage();
    await signIn(page, platform, VIEWER_ADMIN);
    await page.goto(`${platform.url}/circuits/${circuitId}/view`);
    await waitForGraph(page);
    const g = graph.groups.find((x) => x.layer === 1) ?? graph.groups[0]!;
    await clickNode(page, `g${g.id}`);
    await page.getByTestId("detail-panel").waitFor();
    await page.getByTestId("threshold").fill("0.3");
    const shown = await visible(page);
    // the sharer zooms into a corner: most of the graph is outside their view
    await page.evaluate(() => {
      const cy = window.__viewerCy!;
      cy.viewport({ zoom: 3, pan: { x: 40, y: 30 } });
    });
    const theirs = await viewport(page);
    expect(theirs.nodes.x2 > theirs.extent.x2 || theirs.nodes.y2 > theirs.extent.y2).toBe(true);
    await page.getByTestId("share-open").click();
    await page.getByTestId("share-create").click();
    const url = await page.getByTestId("share-url").inputValue();
    expect(url).toMatch(/\/s\/[A-Za-z0-9_-]{43}$/);

    // a phone: selection and threshold kept, the whole graph fitted
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "light" });
    const p = await phone.newPage();
    await p.goto(url);
    await waitForGraph(p);
    expect(await selectedNode(p)).toBe(`g${g.id}`);
    expect(await p.getByTestId("threshold").inputValue()).toBe("0.3");
    expect((await visible(p)).nodes.sort()).toEqual(shown.nodes.sort());
    const v = await viewport(p);
    expect(v.width).toBeLessThan(390);
    expect(v.count).toBe(shown.nodes.length);
    expect(v.zoom).toBeLessThan(theirs.zoom);
    expect(v.nodes.x1).toBeGreaterThanOrEqual(v.extent.x1);
    expect(v.nodes.y1).toBeGreaterThanOrEqual(v.extent.y1);
    expect(v.nodes.x2).toBeLessThanOrEqual(v.extent.x2);
    expect(v.nodes.y2).toBeLessThanOrEqual(v.extent.y2);
    // and the canvas itself ends on the phone's first screen
    const canvasBox = (await p.getByTestId("circuit-canvas").boundingBox())!;
    expect(canvasBox.y + canvasBox.height).toBeLessThanOrEqual(844);
    await p.screenshot({ path: join(ROOT, "docs", "images", "viewer-share-phone.png"), fullPage: false });

    // the sharer's own screen size: their zoom and pan come back
    const same = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "light" });
    const s = await same.newPage();
    await s.goto(url);
    await waitForGraph(s);
    const back = await viewport(s);
    expect(back.width).toBe(theirs.width);
    expect(back.zoom).toBeCloseTo(3, 5);
    expect(back.pan.x).toBeCloseTo(40, 5);
    expect(back.pan.y).toBeCloseTo(30, 5);
    await Promise.all([sharer.close(), phone.close(), same.close()]);
  });
});
