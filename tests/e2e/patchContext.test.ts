/**
 * Patches in context, in headless Chromium with one worker on the toy-world circuit computed by the
 * engine: every concept patch in a group's panel shows the activation it was chosen for (checked
 * against the stored top-patch activations); clicking one opens its context — the source image
 * (drawn, model input size) with the crop's box where the circuit stores it, its granularity — and,
 * once "compute" ran the worker job, the group's metric M over all of the circuit's patches as a
 * histogram whose bars count every patch, with this patch marked at the M the stored activations
 * give (for a one-neuron group M = activation / the neuron's mean concept activation). Esc closes
 * the dialog and keeps the panel. Screenshot: docs/images/viewer-patch-context.png.
 */
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGraph } from "~/server/circuits/graph";
import type { CircuitGraph, GraphGroup } from "~/lib/circuits/viewTypes";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, startPlatform, type Platform } from "./helpers";
import { clickNode, seedViewer, toyCircuit, signedInPage, waitForGraph } from "./viewerHelpers";

let platform: Platform;
let browser: Browser;
let page: Page;
let circuitId: number;
let graph: CircuitGraph;

beforeAll(async () => {
  const bee = await toyCircuit("bee");
  platform = await startPlatform({ workers: 1 });
  circuitId = (await seedViewer(platform, [bee]))[0]!.circuitId;
  graph = loadGraph(platform.db(), circuitId)!;
  browser = await launchBrowser();
  page = await signedInPage(browser, platform);
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

/** Stored top-patch rows of a group's member (neuron, semantic group) pairs. */
function memberRows(g: GraphGroup) {
  const rows = platform
    .db()
    .$client.prepare(
      `select t.neuron as neuron, p.patch_idx as patch, p.activation as activation, p.semantic_group as sg
       from target_top_patches p join circuit_targets t on t.id = p.target_id
       join circuit_layers l on l.id = t.layer_id where l.circuit_id = ? and l.idx = ?`,
    )
    .all(circuitId, g.layer) as { neuron: number; patch: number; activation: number; sg: number }[];
  const member = new Set(g.members.map((m) => `${m.neuron}:${m.semanticGroup}`));
  return rows.filter((r) => member.has(`${r.neuron}:${r.sg}`));
}

describe("patch context", () => {
  it("shows each patch's activation, its box in the source image and the group's histogram with it marked", async () => {
    // a top-layer group: its one neuron is the class logit, so M has a closed form to check against
    const g = graph.groups.find((x) => x.layer === 0 && new Set(x.members.map((m) => m.neuron)).size === 1)!;
    expect(g).toBeDefined();
    const rows = memberRows(g);
    await page.goto(`${platform.url}/circuits/${circuitId}/view`);
    await waitForGraph(page);
    await clickNode(page, `g${g.id}`);
    await page.getByTestId("detail-panel").waitFor();

    // every patch carries the strongest member activation stored for it
    const shown = page.getByTestId("patch-activation");
    await expect
      .poll(async () => (await shown.allTextContents()).filter((t) => t.startsWith("a ")).length)
      .toBe(g.patches.length);
    const texts = await shown.allTextContents();
    g.patches.forEach((p, i) => {
      const best = Math.max(...rows.filter((r) => r.patch === p).map((r) => r.activation));
      expect(Number(texts[i]!.slice(2))).toBeCloseTo(best, 1);
    });

    // open the second patch: its source image with the stored box
    const idx = g.patches[1] ?? g.patches[0]!;
    const box = platform
      .db()
      .$client.prepare(
        `select p.x as x, p.y as y, p.size as size, i.name as name from circuit_patches p
         join circuit_images i on i.circuit_id = p.circuit_id and i.idx = p.image_idx
         where p.circuit_id = ? and p.idx = ?`,
      )
      .get(circuitId, idx) as { x: number; y: number; size: number; name: string };
    await page.getByTestId("patch-open").nth(g.patches.indexOf(idx)).click();
    const dialog = page.getByTestId("patch-context");
    await dialog.waitFor();
    expect(await dialog.locator("h2").textContent()).toContain(`fc · g${g.groupId}`);
    await expect
      .poll(() =>
        dialog
          .getByTestId("patch-source")
          .evaluate((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth),
      )
      .toBe(64);
    expect(await dialog.getByTestId("patch-source").getAttribute("alt")).toContain(box.name);
    const k = 288 / 64;
    const rect = dialog.getByTestId("patch-box");
    expect(Number(await rect.getAttribute("x"))).toBeCloseTo(box.x * k + 1, 3);
    expect(Number(await rect.getAttribute("y"))).toBeCloseTo(box.y * k + 1, 3);
    expect(Number(await rect.getAttribute("width"))).toBeCloseTo(box.size * k - 2, 3);
    const gran = box.size / 64;
    expect(await dialog.getByTestId("patch-granularity").textContent()).toBe(
      { 1: "1 (the whole image)", 0.5: "½", 0.25: "¼" }[gran] ?? gran.toFixed(3),
    );

    // the histogram: computed on request by the worker, then drawn with this patch marked
    await dialog.getByTestId("patch-histogram-compute").click();
    await dialog.getByTestId("patch-histogram").waitFor({ timeout: 120_000 });
    const counts = (await dialog
      .getByTestId("histogram-bar")
      .evaluateAll((bars) => bars.map((b) => Number(b.getAttribute("data-count"))))) as number[];
    expect(counts.length).toBe(40);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(graph.circuit.patchCount);
    const marker = dialog.getByTestId("histogram-marker");
    const m = Number(await marker.getAttribute("data-m"));
    // one neuron: M = a / (mean over its semantic groups of the mean concept activation)
    const refs = [...new Set(g.members.map((x) => x.semanticGroup))].map((sg) => {
      const own = memberRows(g).filter((r) => r.sg === sg);
      return own.reduce((s, r) => s + r.activation, 0) / own.length;
    });
    const ref = refs.reduce((a, b) => a + b, 0) / refs.length;
    const a = Math.max(...rows.filter((r) => r.patch === idx).map((r) => r.activation));
    expect(m).toBeCloseTo(a / ref, 3);
    const max = Number(await dialog.getByTestId("patch-histogram").getAttribute("data-max"));
    expect(max).toBeGreaterThanOrEqual(m);
    const x = Number(await marker.getAttribute("data-x"));
    expect(x).toBeCloseTo(36 + (m / max) * (420 - 44), 3);
    // a top patch of the logit ranks high among all patches (fewer than k patches score higher)
    const text = await dialog.getByTestId("patch-m").textContent();
    const [, lower, all] = /higher than (\d+) of the circuit's (\d+) patches/.exec(text!)!;
    expect(Number(all)).toBe(graph.circuit.patchCount);
    expect(Number(lower)).toBeGreaterThanOrEqual(graph.circuit.patchCount - graph.circuit.k);
    await dialog.screenshot({ path: join(ROOT, "docs", "images", "viewer-patch-context.png"), animations: "disabled" });

    // Esc closes the dialog, not the panel
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await page.getByTestId("detail-panel").count()).toBe(1);
  });
});
