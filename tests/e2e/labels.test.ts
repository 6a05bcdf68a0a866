/**
 * Labels in the browser, on the real platform (production build, `next start`, a worker process)
 * with a local OpenAI-compatible server standing in for the MLLM: an annotator starts labeling
 * and watches it finish; a label containing <script> renders as text; the annotator edits a label
 * while a second session edits the same one — the second, stale save is refused and shows the
 * newer text; the history shows the model's and the annotator's revisions; a viewer cannot edit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { goodExplanation, goodLabel, type FakeOpenAI } from "../helpers/fakeOpenAI";
import type { CircuitForLabels } from "~/server/labeling/circuitData";
import { createShareLink } from "~/server/share/links";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, signIn, startPlatform, type Platform } from "./helpers";
import {
  ANNOTATOR,
  ANNOTATOR2,
  createLabelUsers,
  LABEL_MODEL,
  labelEnv,
  seedCircuit,
  startLabelServer,
  VIEWER,
} from "./labelsHelpers";

const SCRIPT_LABEL = "<script>window.__pwned=1</script>";

let fake: FakeOpenAI;
let platform: Platform;
let browser: Browser;
let circuitId: number;
let data: CircuitForLabels;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  // the first group of the top layer gets a label made of markup; every other group a plain one
  fake = await startLabelServer((r) => {
    if (r.kind === "explanation") return goodExplanation("The stripes of the child make up the parent's abdomen.");
    return r.userText.startsWith(`Neuron group ${data.groups[0]!.group} of layer "${data.groups[0]!.layerName}"`)
      ? goodLabel(SCRIPT_LABEL, '<img src=x onerror="window.__pwned=2">')
      : goodLabel("yellow stripes", "Black and yellow stripes.");
  });
  platform = await startPlatform({ workers: 1, env: labelEnv(fake) });
  await createLabelUsers(platform);
  ({ circuitId, data } = await seedCircuit(platform));
  browser = await launchBrowser();
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await platform?.stop();
  await fake?.close();
});

async function session(user: typeof ANNOTATOR): Promise<Page> {
  const ctx = await browser.newContext();
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  await signIn(page, platform, user);
  return page;
}

/** With E2E_SCREENSHOTS=<folder>, saves a full-page screenshot (for looking at the UI). */
async function shot(page: Page, name: string): Promise<void> {
  const dir = process.env.E2E_SCREENSHOTS;
  if (dir) await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

async function withOutput(f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- server and worker output ---\n${platform.output().slice(-5000)}`;
    throw e;
  }
}

describe("labels in the browser", () => {
  let a: Page;
  let g: { layer: number; group: number };
  let g2: { layer: number; group: number };

  it("an annotator labels the circuit with the MLLM; markup from the model renders as text", { timeout: 300_000 }, () =>
    withOutput(async () => {
      g = { layer: data.groups[0]!.layer, group: data.groups[0]!.group };
      g2 = { layer: data.groups[1]!.layer, group: data.groups[1]!.group };
      a = await session(ANNOTATOR);
      await a.goto(`${platform.url}/circuits/${circuitId}`);
      await a.getByTestId("label-config").filter({ hasText: LABEL_MODEL }).waitFor();
      await a.getByTestId("label-start").click();
      await a.getByTestId("label-job").filter({ hasText: "succeeded" }).waitFor({ timeout: 120_000 });
      await a
        .getByTestId("label-job")
        .filter({ hasText: `${data.groups.length} label(s)` })
        .waitFor();
      expect(fake.requests.length).toBeGreaterThanOrEqual(data.groups.length);
      expect(fake.requests.every((r) => r.images.length >= 1 && r.headers["x-neurflow-prompt-version"] != null)).toBe(
        true,
      );

      // the markup label is plain text in the row and in the panel, and nothing ran
      const row = a.getByTestId(`group-row-${g.layer}-${g.group}`);
      await row.getByTestId("row-label").filter({ hasText: SCRIPT_LABEL }).waitFor();
      expect(await row.getByTestId("row-label").textContent()).toBe(SCRIPT_LABEL);
      await a.getByTestId(`group-open-${g.layer}-${g.group}`).click();
      const panel = a.getByTestId("group-label-panel");
      expect(await panel.getByTestId("label-text").textContent()).toBe(SCRIPT_LABEL);
      expect(await panel.getByTestId("label-description").textContent()).toBe('<img src=x onerror="window.__pwned=2">');
      expect(await a.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await a.locator("img[src='x']").count()).toBe(0);
      expect(await panel.getByTestId("label-provenance").textContent()).toContain(
        `model ${LABEL_MODEL} · prompt label-v1`,
      );
    }),
  );

  it("explanations appear on the graph's edges and open in the edge panel", { timeout: 120_000 }, () =>
    withOutput(async () => {
      await a.goto(`${platform.url}/circuits/${circuitId}/view`);
      await a.locator("[data-testid=viewer][data-ready='1']").waitFor();
      const explained = await a.evaluate(() =>
        window
          .__viewerCy!.edges(".explained")
          .map((e) => ({ id: e.id(), label: e.data("expl") as string, drawn: e.style("label") as string })),
      );
      expect(explained.length).toBeGreaterThanOrEqual(1);
      expect(explained[0]!.label).toBe("The stripes of the child make up the parent's abdomen.");
      expect(explained[0]!.drawn).toBe("✎");
      // clicking the edge selects it: its label shows the explanation, and the panel opens
      await a.evaluate((id) => void window.__viewerCy!.getElementById(id).emit("tap"), explained[0]!.id);
      const panel = a.getByTestId("edge-panel");
      await panel.waitFor();
      await panel
        .getByTestId("label-text")
        .filter({ hasText: "The stripes of the child make up the parent's abdomen." })
        .waitFor();
      expect(await a.evaluate((id) => window.__viewerCy!.getElementById(id).style("label"), explained[0]!.id)).toBe(
        "The stripes of the child make up the parent's abdomen.",
      );
      await panel.getByTestId("edge-parent").click();
      await a.getByTestId("detail-panel").waitFor();
    }),
  );

  it(
    "a second session's stale edit is refused with the newer text; history shows model and annotator revisions",
    { timeout: 180_000 },
    () =>
      withOutput(async () => {
        const b = await session(ANNOTATOR2);
        for (const p of [a, b]) {
          await p.goto(`${platform.url}/circuits/${circuitId}`);
          await p.getByTestId(`group-open-${g2.layer}-${g2.group}`).click();
          const panel = p.getByTestId("group-label-panel");
          await panel.getByTestId("label-text").filter({ hasText: "yellow stripes" }).waitFor();
          await panel.getByTestId("label-edit").click();
        }
        // both started from v1; the first save wins
        const pa = a.getByTestId("group-label-panel");
        await pa.getByTestId("label-input").fill("bee abdomen stripes");
        await pa.getByTestId("label-save").click();
        await pa.getByTestId("label-text").filter({ hasText: "bee abdomen stripes" }).waitFor();

        const pb = b.getByTestId("group-label-panel");
        await pb.getByTestId("label-input").fill("wings");
        await pb.getByTestId("label-save").click();
        const conflict = pb.getByTestId("label-conflict");
        await conflict.waitFor();
        expect(await conflict.getByTestId("label-conflict-text").textContent()).toBe("bee abdomen stripes");
        // the draft is kept, nothing was overwritten
        expect(await pb.getByTestId("label-input").inputValue()).toBe("wings");
        expect(await pb.getByTestId("label-text").textContent()).toBe("bee abdomen stripes");

        // history: v1 by the model, v2 by the annotator, with the diff
        await pa.getByTestId("label-history-toggle").click();
        const v1 = pa.getByTestId("revision-1");
        const v2 = pa.getByTestId("revision-2");
        expect(await v1.getAttribute("data-source")).toBe("model");
        expect(await v1.getByTestId("revision-provenance").textContent()).toBe(
          `model ${LABEL_MODEL} · prompt label-v1 · 140 tokens`,
        );
        expect(await v2.getAttribute("data-source")).toBe("annotator");
        expect(await v2.getByTestId("revision-provenance").textContent()).toBe(`annotator ${ANNOTATOR.username}`);
        // the word diff against v1: "yellow" removed, "bee" and "abdomen" added
        expect((await v2.locator("ins").allTextContents()).join("|")).toMatch(/bee.*abdomen/);
        expect((await v2.locator("del").allTextContents()).join("|")).toContain("yellow");
        expect(await pa.getByTestId("revision-3").count()).toBe(0);

        // B takes the newer version and saves on top of it; then A reverts to the model's text
        await pb.getByTestId("label-conflict-rebase").click();
        await pb.getByTestId("label-save").click();
        await pb.getByTestId("label-text").filter({ hasText: "wings" }).waitFor();
        await a.reload();
        await a.getByTestId(`group-open-${g2.layer}-${g2.group}`).click();
        await pa.getByTestId("label-history-toggle").click();
        await pa.getByTestId("revert-1").click();
        await pa.getByTestId("label-text").filter({ hasText: "yellow stripes" }).waitFor();
        expect(await pa.getByTestId("revision-4").getByTestId("revision-provenance").textContent()).toBe(
          `${ANNOTATOR.username} reverted to v1`,
        );
        await pa.getByTestId("label-mark-reviewed").click();
        await pa.getByTestId("label-review").filter({ hasText: "reviewed" }).waitFor();
        await shot(a, "labels-annotator");
        await shot(b, "labels-conflict");
      }),
  );

  it("a viewer reads labels and history but cannot edit", { timeout: 120_000 }, () =>
    withOutput(async () => {
      const v = await session(VIEWER);
      await v.goto(`${platform.url}/circuits/${circuitId}`);
      await v.getByTestId(`group-open-${g2.layer}-${g2.group}`).click();
      const panel = v.getByTestId("group-label-panel");
      await panel.getByTestId("label-text").filter({ hasText: "yellow stripes" }).waitFor();
      await panel.getByTestId("label-readonly").waitFor();
      expect(await panel.getByTestId("label-edit").count()).toBe(0);
      expect(await v.getByTestId("label-start").count()).toBe(0);
      // the summary shows what each group sees: its mosaic in the row, the evidence patches in the panel
      const drawn = (imgs: import("playwright-core").Locator) =>
        imgs.evaluateAll(
          (els) =>
            els.length > 0 &&
            els.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0),
        );
      await v.getByTestId(`group-row-${g2.layer}-${g2.group}`).getByTestId("row-mosaic").scrollIntoViewIfNeeded();
      await expect
        .poll(() => drawn(v.getByTestId(`group-row-${g2.layer}-${g2.group}`).getByTestId("row-mosaic")), {
          timeout: 15_000,
        })
        .toBe(true);
      await expect.poll(() => drawn(panel.getByTestId("evidence").locator("img")), { timeout: 15_000 }).toBe(true);
      await panel.getByTestId("label-history-toggle").click();
      await panel.getByTestId("revision-4").waitFor();
      expect(await panel.locator("[data-testid^='revert-']").count()).toBe(0);
      // and the server refuses a hand-made request
      const status = await v.evaluate(
        async ([id, layer, group]) => {
          const r = await fetch("/api/trpc/labels.save?batch=1", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              0: {
                json: {
                  circuitId: id,
                  target: { kind: "group", layer, group },
                  expectedVersion: 4,
                  text: "viewer edit",
                },
              },
            }),
          });
          return r.status;
        },
        [circuitId, g2.layer, g2.group] as const,
      );
      expect(status).toBe(403);
      expect(await panel.getByTestId("label-text").textContent()).toBe("yellow stripes");
      await shot(v, "labels-viewer");
    }),
  );

  it("the circuit viewer's detail panel shows the same label panel", { timeout: 120_000 }, () =>
    withOutput(async () => {
      const rowId = data.groups[1]!.rowId;
      await a.goto(`${platform.url}/circuits/${circuitId}/view?node=g${rowId}`);
      const slot = a.getByTestId("label-slot");
      await slot.getByTestId("label-text").filter({ hasText: "yellow stripes" }).waitFor();
      await slot.getByTestId("label-review").filter({ hasText: "reviewed" }).waitFor();
      expect(await slot.getByTestId("label-edit").count()).toBe(1);
      await shot(a, "labels-viewer-slot");
    }),
  );

  it(
    "a share-link visitor reads the label with its review state and history, without edit controls",
    { timeout: 120_000 },
    () =>
      withOutput(async () => {
        const rowId = data.groups[1]!.rowId;
        const { token } = createShareLink(platform.db(), {
          circuitId,
          viewState: { selected: `g${rowId}`, threshold: 0, zoom: null, pan: null, heatmaps: false },
          createdBy: null,
          expiresAt: null,
        });
        const ctx = await browser.newContext(); // no session
        contexts.push(ctx);
        const s = await ctx.newPage();
        const refused: string[] = [];
        s.on(
          "response",
          (r) => r.url().includes("/api/trpc/") && r.status() >= 400 && refused.push(`${r.status()} ${r.url()}`),
        );
        await s.goto(`${platform.url}/s/${token}`);
        const slot = s.getByTestId("label-slot");
        await slot.getByTestId("label-text").filter({ hasText: "yellow stripes" }).waitFor();
        await slot.getByTestId("label-review").filter({ hasText: "reviewed" }).waitFor();
        await slot.getByTestId("label-readonly").waitFor();
        expect(await slot.getByTestId("label-edit").count()).toBe(0);
        await slot.getByTestId("label-history-toggle").click();
        await slot.getByTestId("revision-1").waitFor();
        expect(refused).toStrictEqual([]);
      }),
  );

  it(
    "edits in the viewer show on the graph at once; any edge opens its panel, where a first explanation can be written",
    { timeout: 120_000 },
    () =>
      withOutput(async () => {
        const g3 = data.groups[2]!;
        await a.goto(`${platform.url}/circuits/${circuitId}/view?node=g${g3.rowId}`);
        await a.locator("[data-testid=viewer][data-ready='1']").waitFor();
        const slot = a.getByTestId("label-slot");
        // Esc in the editor cancels the edit and keeps the panel
        await slot.getByTestId("label-edit").click();
        await slot.getByTestId("label-input").press("Escape");
        await slot.getByTestId("label-input").waitFor({ state: "detached" });
        expect(await a.getByTestId("detail-panel").count()).toBe(1);
        await slot.getByTestId("label-edit").click();
        await slot.getByTestId("label-input").fill("live on the canvas");
        await slot.getByTestId("label-save").click();
        await slot.getByTestId("label-text").filter({ hasText: "live on the canvas" }).waitFor();
        await expect
          .poll(() => a.evaluate((id) => window.__viewerCy!.getElementById(id).data("label") as string, `g${g3.rowId}`))
          .toBe(`${g3.layerName} · g${g3.group} · live on the canvas`);

        const plain = await a.evaluate(
          () =>
            window
              .__viewerCy!.edges("[id ^= 'e']")
              .filter((e) => !e.hasClass("explained"))
              .map((e) => e.id())[0]!,
        );
        await a.evaluate((id) => void window.__viewerCy!.getElementById(id).emit("tap"), plain);
        const panel = a.getByTestId("edge-panel");
        await panel.waitFor();
        await panel.getByTestId("label-edit").click();
        await panel.getByTestId("label-input").fill("The child's stripes are part of the parent.");
        await panel.getByTestId("label-save").click();
        await expect
          .poll(() =>
            a.evaluate(
              (id) => [
                window.__viewerCy!.getElementById(id).hasClass("explained"),
                window.__viewerCy!.getElementById(id).data("expl"),
              ],
              plain,
            ),
          )
          .toStrictEqual([true, "The child's stripes are part of the parent."]);
      }),
  );
});
