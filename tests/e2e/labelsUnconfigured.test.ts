/**
 * Without any MLLM endpoint configured: the circuit page says plainly that automatic labeling is
 * off, offers no start button, and labels can still be written by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, signIn, startPlatform, type Platform } from "./helpers";
import { ANNOTATOR, createLabelUsers, seedCircuit } from "./labelsHelpers";

let platform: Platform;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // no OPENAI_* at all, even if the developer's shell has them
  const env: Record<string, string> = { OPENAI_BASE_URL: "", OPENAI_API_KEY: "" };
  platform = await startPlatform({ workers: 0, env });
  await createLabelUsers(platform);
  browser = await launchBrowser();
  page = await browser.newPage();
  page.setDefaultTimeout(30_000);
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

describe("labels without an endpoint", () => {
  it("the page says labeling is off; hand-written labels still work", { timeout: 120_000 }, async () => {
    const { circuitId, data } = await seedCircuit(platform, 41);
    const g = data.groups[0]!;
    await signIn(page, platform, ANNOTATOR);
    await page.goto(`${platform.url}/circuits/${circuitId}`);
    const missing = page.getByTestId("label-config-missing");
    await missing.waitFor();
    expect(await missing.textContent()).toContain(
      "Automatic labeling is off: no MLLM endpoint is configured on this server",
    );
    expect(await page.getByTestId("label-start").count()).toBe(0);
    // the rest of the page is there
    await page.getByText("Parameters").waitFor();
    await page.getByTestId(`group-open-${g.layer}-${g.group}`).click();
    const panel = page.getByTestId("group-label-panel");
    await panel.getByTestId("label-empty").waitFor();
    await panel.getByTestId("label-edit").click();
    await panel.getByTestId("label-input").fill("hand-written label");
    await panel.getByTestId("label-save").click();
    await panel.getByTestId("label-text").filter({ hasText: "hand-written label" }).waitFor();
    await panel.getByTestId("label-history-toggle").click();
    expect(await panel.getByTestId("revision-1").getByTestId("revision-provenance").textContent()).toBe(
      `annotator ${ANNOTATOR.username}`,
    );
  });
});
