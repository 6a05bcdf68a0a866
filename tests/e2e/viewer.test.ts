/**
 * The circuit viewer in headless Chromium on the toy-world circuit computed by the engine: the
 * graph renders with its mosaics, the slider hides edges, clicking a node opens its panel with
 * patches, keyboard and drill-down, export, a share link in a fresh context (no session) shows the
 * same view and cannot call a write procedure, a revoked link shows a clear page; browsing and
 * compare. Screenshots (light and dark) go to docs/images/.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGraph } from "~/server/circuits/graph";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, signIn, startPlatform, type Platform } from "./helpers";
import { clickNode, seedViewer, selectedNode, toyCircuit, VIEWER_ADMIN, visible, waitForGraph } from "./viewerHelpers";

const SHOTS = join(ROOT, "docs", "images");

let platform: Platform;
let browser: Browser;
let bee: number;
let sun: number;
let beeTau4: number;
let graph: CircuitGraph;
let ctx: BrowserContext;
let page: Page;
let shareUrl = "";

beforeAll(async () => {
  const [a, b, c] = await Promise.all([toyCircuit("bee"), toyCircuit("sun"), toyCircuit("bee", 4)]);
  platform = await startPlatform({ workers: 1 }); // the worker computes IG heatmaps
  const seeded = await seedViewer(platform, [a, b, c]);
  bee = seeded[0]!.circuitId;
  sun = seeded[1]!.circuitId;
  beeTau4 = seeded[2]!.circuitId;
  graph = loadGraph(platform.db(), bee)!;
  browser = await launchBrowser();
  ctx = await browser.newContext({
    viewport: { width: 1400, height: 900 },
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

describe("circuit viewer", () => {
  it("renders the graph with its mosaics", async () => {
    const mosaics: { status: number; type: string | null }[] = [];
    page.on("response", (r) => {
      if (r.url().includes("/mosaics/"))
        mosaics.push({ status: r.status(), type: r.headers()["content-type"] ?? null });
    });
    await page.goto(`${platform.url}/circuits/${bee}/view`);
    await waitForGraph(page);
    const v = await visible(page);
    expect(v.nodes.length).toBe(graph.groups.length + 1);
    expect(v.edges.length).toBe(graph.edges.length + graph.logitEdges.length);
    // every node's background image was fetched and is a PNG
    await expect.poll(() => mosaics.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(graph.groups.length);
    expect(mosaics.every((m) => m.status === 200 && m.type === "image/png")).toBe(true);
    // layout: the logit on top, one rank per layer below it
    const ys = await page.evaluate(() => window.__viewerCy!.nodes().map((n) => [n.id(), n.position("y")] as const));
    const logitY = ys.find(([id]) => id === "logit")![1];
    expect(ys.filter(([id]) => id !== "logit").every(([, y]) => y > logitY)).toBe(true);
  });

  it("the threshold slider hides weak edges and orphaned nodes", async () => {
    const before = await visible(page);
    await page.getByTestId("threshold").fill("0.7");
    const after = await visible(page);
    const maxW = Math.max(...graph.edges.map((e) => Math.abs(e.weight)));
    const strong = graph.edges.filter((e) => Math.abs(e.weight) >= 0.7 * maxW).length;
    expect(after.edges.length).toBe(strong + graph.logitEdges.length);
    expect(after.edges.length).toBeLessThan(before.edges.length);
    // a node left without a visible edge is hidden
    const connected = new Set<string>(["logit"]);
    for (const e of graph.edges)
      if (Math.abs(e.weight) >= 0.7 * maxW) connected.add(`g${e.source}`).add(`g${e.target}`);
    for (const e of graph.logitEdges) connected.add(`g${e.group}`);
    expect(after.nodes.sort()).toEqual([...connected].sort());
    await expect
      .poll(() => page.getByTestId("edge-count").textContent())
      .toContain(`${strong}/${graph.edges.length} edges`);
    await page.getByTestId("threshold").fill("0");
    expect((await visible(page)).edges.length).toBe(before.edges.length);
  });

  it("clicking a node opens its panel with concept patches; keyboard and drill-down", async () => {
    const g = graph.groups.find((x) => x.layer === 1) ?? graph.groups[0]!;
    await clickNode(page, `g${g.id}`);
    await page.getByTestId("detail-panel").waitFor();
    expect(await selectedNode(page)).toBe(`g${g.id}`);
    expect(await page.getByTestId("panel-title").textContent()).toContain(`group ${g.groupId}`);
    const patches = page.getByTestId("patch");
    expect(await patches.count()).toBe(g.patches.length);
    await expect
      .poll(
        () =>
          patches.evaluateAll((imgs) =>
            imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth === 64),
          ),
        { timeout: 15_000 },
      )
      .toBe(true);
    await page.getByTestId("label-slot").waitFor();
    // ↑ moves to the strongest parent, Esc closes the panel
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("ArrowUp");
    const up = await selectedNode(page);
    const strongestParent = graph.edges
      .filter((e) => e.source === g.id)
      .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))[0];
    expect(up).toBe(strongestParent ? `g${strongestParent.target}` : "logit");
    await page.keyboard.press("ArrowDown");
    expect(await selectedNode(page)).not.toBe(up);
    // drill down to a member neuron's hypertree
    await page.getByTestId("drill").first().click();
    await page.getByTestId("hypertree-canvas").waitFor();
    await page.keyboard.press("Escape");
    await page.getByTestId("hypertree").waitFor({ state: "detached" });
    await page.keyboard.press("Escape");
    await page.getByTestId("detail-panel").waitFor({ state: "detached" });
    expect(await selectedNode(page)).toBeNull();
  });

  it("a click reaches the node under the pointer after the content above the canvas grows", async () => {
    // what the toolbar does when it wraps (the faithfulness figure arriving on a narrow screen)
    await page.evaluate(() => {
      const spacer = document.createElement("div");
      spacer.id = "spacer";
      spacer.style.height = "60px";
      document.querySelector("[data-testid=viewer]")!.prepend(spacer);
    });
    try {
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      for (const g of graph.groups.slice(0, 2)) {
        await clickNode(page, `g${g.id}`);
        expect(await selectedNode(page)).toBe(`g${g.id}`);
      }
    } finally {
      await page.evaluate(() => document.getElementById("spacer")!.remove());
      await page.keyboard.press("Escape");
    }
  });

  it("keyboard: the graph is a named, focusable control; selections are announced; browser shortcuts stay the browser's", async () => {
    const canvas = page.getByTestId("circuit-canvas");
    expect(await canvas.getAttribute("role")).toBe("application");
    expect(await canvas.getAttribute("aria-label")).toContain("arrow keys move between connected nodes");
    await canvas.focus();
    await page.keyboard.press("ArrowUp"); // nothing selected: starts at the logit
    await expect
      .poll(() => page.getByTestId("selection-announcement").textContent())
      .toContain("Selected: the class logit");
    await page.keyboard.press("ArrowDown");
    const down = await selectedNode(page);
    expect(down).toMatch(/^g\d+$/);
    await expect
      .poll(() => page.getByTestId("selection-announcement").textContent())
      .toMatch(/^Selected: .* group \d+/);
    const before = await selectedNode(page);
    await page.keyboard.press("Control+ArrowRight"); // (Alt+← → are Back and Forward)
    expect(await selectedNode(page)).toBe(before);
    // a neighbour chosen with the keyboard: focus lands on the new panel's heading, not the page's start
    await page.getByTestId("parents").getByRole("button").first().focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe("H2");
    // an edge's panel is reachable from the keyboard too: the W beside a neighbour opens it
    const fromGroup = graph.groups.find((x) => x.layer === 1)!;
    await clickNode(page, `g${fromGroup.id}`);
    await page.getByTestId("open-edge").first().focus();
    await page.keyboard.press("Enter");
    await page.getByTestId("edge-panel").waitFor();
    // closing the panel with its button: focus goes back to the graph
    await page.getByRole("button", { name: "Close panel (Esc)" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute("role"))).toBe("application");
  });

  it("on a phone: no sideways scrolling, and a tapped node's panel comes into view", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      const p = await phone.newPage();
      await signIn(p, platform, VIEWER_ADMIN);
      await p.goto(`${platform.url}/circuits/${bee}/view`);
      await waitForGraph(p);
      await p
        .getByTestId("faithfulness")
        .waitFor({ state: "attached" })
        .catch(() => {});
      expect(await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
      const g = graph.groups[0]!;
      await p.evaluate((id) => void window.__viewerCy!.getElementById(id).emit("tap"), `g${g.id}`);
      await p.getByTestId("detail-panel").waitFor();
      await expect
        .poll(
          () => p.getByTestId("detail-panel").evaluate((el) => el.getBoundingClientRect().top < window.innerHeight),
          { timeout: 5_000 },
        )
        .toBe(true);
    } finally {
      await phone.close();
    }
  });

  it("IG heatmaps: computed on request by the worker, overlaid on the patches", async () => {
    const g = graph.groups.find((x) => x.layer === 0)!;
    await clickNode(page, `g${g.id}`);
    await page.getByTestId("heatmaps-toggle").check();
    await page.getByTestId("heatmaps-compute").click();
    await expect
      .poll(() => page.getByTestId("heatmap").count(), { timeout: 180_000, interval: 500 })
      .toBe(g.patches.length);
    await expect
      .poll(() =>
        page
          .getByTestId("heatmap")
          .evaluateAll((imgs) =>
            imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth === 64),
          ),
      )
      .toBe(true);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SHOTS, "viewer-light.png") });
    await page.getByTestId("heatmaps-toggle").uncheck();
  }, 200_000);

  it("exports SVG (with images) and PNG of the current view", async () => {
    await clickNode(page, `g${graph.groups[0]!.id}`);
    const [svgDl] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-svg").click()]);
    const svg = readFileSync((await svgDl.path())!, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("data:image/png;base64,");
    expect(svg).toContain(`>${graph.circuit.className}<`);
    const [pngDl] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-png").click()]);
    expect(
      readFileSync((await pngDl.path())!)
        .subarray(1, 4)
        .toString(),
    ).toBe("PNG");
  });

  it("a share link in a fresh context shows the same view and cannot write", async () => {
    const target = graph.groups.find((x) => x.layer === 0)!;
    await clickNode(page, `g${target.id}`);
    await page.getByTestId("threshold").fill("0.2");
    await page.getByTestId("share-open").click();
    await page.getByTestId("share-create").click();
    shareUrl = await page.getByTestId("share-url").inputValue();
    expect(shareUrl).toMatch(/\/s\/[A-Za-z0-9_-]{43}$/);
    // copying says what happened (copied, or selected for the user where there is no clipboard)
    await page.getByTestId("share-copy").click();
    expect(await page.getByTestId("share-copied").textContent()).toMatch(/^(Copied\.|Selected: press Ctrl\+C)/);
    const zoom = await page.evaluate(() => window.__viewerCy!.zoom());

    const anon = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const p2 = await anon.newPage();
    await p2.goto(shareUrl);
    await waitForGraph(p2);
    expect(await selectedNode(p2)).toBe(`g${target.id}`);
    expect(await p2.getByTestId("panel-title").textContent()).toContain(`group ${target.groupId}`);
    expect(await p2.getByTestId("threshold").inputValue()).toBe("0.2");
    expect(Math.abs((await p2.evaluate(() => window.__viewerCy!.zoom())) - zoom)).toBeLessThan(1e-6);
    expect(await p2.getByTestId("patch").count()).toBeGreaterThan(0);
    expect(await p2.getByTestId("share-open").count()).toBe(0);
    const og = await p2.locator('meta[property="og:image"]').getAttribute("content");
    expect(og).toContain(`/api/circuits/${bee}/og?share=`);
    const ogRes = await p2.request.get(og!);
    expect(ogRes.status()).toBe(200);
    expect(ogRes.headers()["content-type"]).toBe("image/png");

    // with the token, the API answers reads of this circuit only, and no write
    const token = shareUrl.split("/s/")[1]!;
    const call = (path: string, method: "GET" | "POST", input: unknown) =>
      p2.evaluate(
        async ({ path, method, input, token }) => {
          const body = JSON.stringify({ json: input });
          const r =
            method === "GET"
              ? await fetch(`/api/trpc/${path}?input=${encodeURIComponent(body)}`, {
                  headers: { "x-neurflow-share": token },
                })
              : await fetch(`/api/trpc/${path}`, {
                  method: "POST",
                  headers: { "content-type": "application/json", "x-neurflow-share": token },
                  body,
                });
          return r.status;
        },
        { path, method, input, token },
      );
    expect(await call("circuitGraph.get", "GET", { id: bee })).toBe(200);
    expect(await call("circuitGraph.get", "GET", { id: sun })).toBe(403);
    expect(await call("circuits.list", "GET", {})).toBe(401);
    expect(
      await call("shareLinks.create", "POST", { circuitId: bee, viewState: { selected: null, threshold: 0 } }),
    ).toBe(401);
    expect(await call("circuits.delete", "POST", { id: bee })).toBe(401);
    expect(await call("runs.start", "POST", { modelId: 1 })).toBe(401);
    expect((await p2.request.get(`${platform.url}/api/circuits/${sun}/patches/0?share=${token}`)).status()).toBe(403);
    expect((await p2.request.get(`${platform.url}/api/circuits/${bee}/export`)).status()).toBe(401);
    await anon.close();
  });

  it("a revoked link shows a clear page", async () => {
    const asked: string[] = [];
    page.once("dialog", (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await page.getByTestId("share-revoke").first().click();
    expect(asked[0]).toMatch(/^Revoke share link #\d+\?/);
    await expect.poll(() => page.getByTestId("share-revoke").count()).toBe(0);
    const anon = await browser.newContext();
    const p2 = await anon.newPage();
    await p2.goto(shareUrl);
    await p2.getByTestId("share-unavailable").waitFor();
    expect(await p2.getByTestId("share-reason").textContent()).toContain("revoked");
    expect(await p2.getByTestId("viewer").count()).toBe(0);
    await p2.screenshot({ path: join(SHOTS, "viewer-share-revoked.png") });
    await anon.close();
  });

  it("dark mode follows the system", async () => {
    const dark = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "dark" });
    const p = await dark.newPage();
    await signIn(p, platform, VIEWER_ADMIN);
    await p.goto(`${platform.url}/circuits/${bee}/view?node=g${graph.groups.find((x) => x.layer === 0)!.id}`);
    await waitForGraph(p);
    await p.getByTestId("heatmaps-toggle").check();
    await p.getByTestId("heatmap").first().waitFor();
    const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).not.toBe("rgb(250, 250, 250)");
    await p.getByTestId("patch").first().waitFor();
    await p.waitForTimeout(800);
    await p.screenshot({ path: join(SHOTS, "viewer-dark.png") });
    await dark.close();
  });

  it("browsing: search by class, thumbnails; compare two circuits", async () => {
    await page.goto(`${platform.url}/circuits?q=bee`);
    const results = page.getByTestId("browse-results").locator("li");
    expect(await results.count()).toBe(2); // bee at τ 3 and τ 4
    await expect
      .poll(
        () =>
          results.locator("img").evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth === 320)),
        { timeout: 15_000 },
      )
      .toBe(true);
    await page.goto(`${platform.url}/circuits?q=zzz`);
    expect(await page.getByTestId("browse-results").count()).toBe(0);
    // one class at two τ: the groups of the logit's layer share their neurons
    await page.goto(`${platform.url}/circuits/compare?a=${bee}&b=${beeTau4}&by=neurons`);
    await page.getByTestId("compare-summary").waitFor();
    await page.getByTestId("compare-a").waitFor();
    await page.getByTestId("compare-b").waitFor();
    const shared = Number((await page.getByTestId("compare-summary").textContent())!.match(/(\d+) shared groups/)![1]);
    expect(shared).toBeGreaterThan(0);
    expect(await page.getByTestId("compare-threshold").textContent()).toContain("0% of each circuit");
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(SHOTS, "viewer-compare.png") });
    // addresses that name no pair of circuits say so
    for (const [q, says] of [
      [`a=x&b=${bee}`, "not a circuit id"],
      [`a=${bee}&b=99999`, "does not exist"],
      [`a=${bee}`, "Pick a circuit on each side"],
    ] as const) {
      await page.goto(`${platform.url}/circuits/compare?${q}`);
      expect(await page.getByTestId("compare-problem").textContent()).toContain(says);
    }
  });
});
