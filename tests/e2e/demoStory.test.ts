/**
 * The home page of a demo database leads a newcomer to "why does the flowers model say bee?", in
 * headless Chromium: a database without the demo's models shows no story; once the flowers model
 * (under the name `npm run demo` registers) has a bee circuit and its cue-free control one too, the
 * home page shows three steps whose links open the flowers circuit in the viewer, its
 * class-dependence report and the compare (by concept) with the control — one click each.
 * Screenshot: docs/images/home-demo-story.png.
 */
import { eq } from "drizzle-orm";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { models } from "~/db/schema";
import { DEMO_MODELS } from "~/server/demo/story";
import { seedCircuit } from "../helpers/viewerSeed";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, startPlatform, type Platform } from "./helpers";
import { seedViewer, toyCircuit, signedInPage, waitForGraph } from "./viewerHelpers";

let platform: Platform;
let browser: Browser;
let page: Page;
let flowersCircuit: number;
let controlCircuit: number;
let flowersModel: number;

beforeAll(async () => {
  const bee = await toyCircuit("bee");
  platform = await startPlatform();
  const [seeded] = await seedViewer(platform, [bee]);
  flowersCircuit = seeded!.circuitId;
  flowersModel = seeded!.modelId;
  // the control: the same model files registered a second time under the control's demo name
  const db = platform.db();
  const { id: _, ...row } = db.select().from(models).where(eq(models.id, flowersModel)).get()!;
  const controlModel = db
    .insert(models)
    .values({ ...row, name: DEMO_MODELS.flowersControl[0] })
    .returning({ id: models.id })
    .get().id;
  controlCircuit = seedCircuit(db, { modelId: controlModel, datasetId: seeded!.datasetId }, bee).circuitId;
  browser = await launchBrowser();
  page = await signedInPage(browser, platform);
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

describe("the demo's home page", () => {
  it("shows no story without the demo's flowers model", async () => {
    await page.goto(`${platform.url}/`);
    await page.getByText("Recent circuits").waitFor();
    expect(await page.getByTestId("demo-story").count()).toBe(0);
  });

  it("leads from the question to the circuit, the dependence evidence and the control, one click each", async () => {
    platform.db().update(models).set({ name: DEMO_MODELS.flowers[0] }).where(eq(models.id, flowersModel)).run();
    await page.goto(`${platform.url}/`);
    const story = page.getByTestId("demo-story");
    await story.waitFor();
    expect(await story.textContent()).toContain("why does the flowers model say “bee”?");
    await page.screenshot({ path: join(ROOT, "docs", "images", "home-demo-story.png") });

    // 1: the flowers model's bee circuit, in the viewer
    await story.getByTestId("story-circuit").click();
    await page.waitForURL((u) => u.pathname === `/circuits/${flowersCircuit}/view`);
    await waitForGraph(page);

    // 2: its class-dependence report
    await page.goto(`${platform.url}/`);
    await story.getByTestId("story-dependence").click();
    await page.waitForURL((u) => u.pathname === `/circuits/${flowersCircuit}/dependence`);
    expect(await page.locator("h1").first().textContent()).toContain("bee");

    // 3: the compare with the cue-free control
    await page.goto(`${platform.url}/`);
    await story.getByTestId("story-compare").click();
    await page.waitForURL(
      (u) =>
        u.pathname === "/circuits/compare" &&
        u.searchParams.get("a") === String(flowersCircuit) &&
        u.searchParams.get("b") === String(controlCircuit),
    );
    // two models: the page matches by concept (not by neuron ids) and says so
    await page.getByTestId("concept-summary").waitFor();
    expect(await page.getByTestId("mode-neurons-off").textContent()).toContain("different models");
    expect(await page.getByTestId("compare-problem").count()).toBe(0);
  });
});
