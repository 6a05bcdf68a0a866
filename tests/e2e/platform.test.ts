/**
 * The user journey end to end, on the real platform (production build, `next start`, a worker
 * process running the real engine, a fresh SQLite database) in headless Chromium: sign in as the
 * first user (admin), upload the toy model and a zip of its images, start a small run, watch the
 * progress bar reach 100 %, open the circuit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { makeZip } from "../helpers/zipWriter";
import { E2E_SETUP_TIMEOUT_MS, launchBrowser, ROOT, signIn, startPlatform, type Platform } from "./helpers";

const FIXTURE = join(ROOT, "tests", "fixtures", "toyworld-a");
const LAYERS = ["fc", "layer4.1", "layer4.0"];

/** The fixture's images as `<class>/<file>` entries of a zip, wrapped in one top folder. */
function imagesZip(): Buffer {
  const dir = join(FIXTURE, "images");
  return makeZip(
    readdirSync(dir).flatMap((cls) =>
      readdirSync(join(dir, cls)).map((f) => ({
        name: `toyworld-images/${cls}/${f}`,
        data: readFileSync(join(dir, cls, f)),
        store: true,
      })),
    ),
  );
}

let platform: Platform;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  platform = await startPlatform({ workers: 1 });
  browser = await launchBrowser();
  page = await browser.newPage();
  page.setDefaultTimeout(30_000);
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

/** Runs `f`; on failure adds what the server and the worker printed. */
async function withOutput(f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- server and worker output ---\n${platform.output().slice(-5000)}`;
    throw e;
  }
}

describe("the platform in a browser", () => {
  it("signs in, uploads a model and images, runs a circuit to 100 % and opens it", { timeout: 600_000 }, () =>
    withOutput(async () => {
      // a fresh installation: the first account becomes admin
      await page.goto(`${platform.url}/`);
      await page.waitForURL((u) => u.pathname === "/signin");
      await page.getByText("the account you create now is the admin").waitFor();
      await signIn(page, platform);
      expect(await page.getByTestId("whoami").textContent()).toBe("admin · admin");

      // the model: manifest + ONNX through the upload form, then the worker's load check
      await page.locator('input[name="name"]').first().fill("toyworld-a e2e");
      await page.locator('input[name="manifest"]').setInputFiles(join(FIXTURE, "manifest.json"));
      await page.locator('input[name="onnx"]').setInputFiles(join(FIXTURE, "toynet.onnx"));
      await page.getByRole("button", { name: "Upload model" }).click();
      await page.waitForURL(/\/models\/\d+$/);
      const modelUrl = page.url();
      await expect(page.locator("h1").textContent()).resolves.toBe("toyworld-a e2e");
      // the page follows the load check by itself (no reload); the run form waits for it
      if ((await page.getByTestId("model-status-message").count()) === 0)
        await page.getByTestId("run-form-waiting").waitFor();
      await page
        .getByTestId("model-status-message")
        .filter({ hasText: "loaded; one batch of zeros gave 6 logits" })
        .waitFor({ timeout: 120_000 });
      await page.locator("main").getByText("ready", { exact: true }).first().waitFor();

      // the images: a zip built here, checked against the model
      await page.goto(`${platform.url}/`);
      const datasetForm = page.locator("form").filter({ hasText: "Add dataset" });
      await datasetForm.locator('input[name="name"]').fill("toy-world images");
      await datasetForm.locator('select[name="modelId"]').selectOption({ label: "toyworld-a e2e" });
      await datasetForm
        .locator('input[name="file"]')
        .setInputFiles({ name: "images.zip", mimeType: "application/zip", buffer: imagesZip() });
      await datasetForm.getByRole("button", { name: "Add dataset" }).click();
      await datasetForm.getByText("Dataset added.").waitFor({ timeout: 120_000 });
      const datasetRow = page.locator("tr").filter({ hasText: "toy-world images" });
      await datasetRow.waitFor();
      expect(await datasetRow.locator("td").allTextContents()).toEqual(
        expect.arrayContaining(["toy-world images", "zip", "6", "96"]),
      );

      // the run: class bee, τ 3, k 12, N 4, layers fc → layer4.1 → layer4.0
      await page.goto(modelUrl);
      const runForm = page.locator("form").filter({ hasText: "Start run" });
      await runForm.locator('select[name="className"]').selectOption("bee");
      // the dataset added for this model is offered first; N follows the preset (15 Gauss–Kronrod nodes, the authors' 50)
      const datasetChoice = runForm.locator('select[name="datasetId"]');
      expect(await datasetChoice.evaluate((s) => (s as HTMLSelectElement).selectedOptions[0]!.textContent)).toBe(
        "toy-world images (for this model)",
      );
      const steps = runForm.locator('input[name="igSteps"]');
      expect(await steps.inputValue()).toBe("15");
      await runForm.locator('select[name="preset"]').selectOption("reference");
      expect(await steps.inputValue()).toBe("50");
      await runForm.locator('select[name="preset"]').selectOption("default");
      expect(await steps.inputValue()).toBe("15");
      await runForm.locator('input[name="tau"]').fill("3");
      await runForm.locator('input[name="k"]').fill("12");
      await steps.fill("4");
      for (const box of await runForm.locator('input[name="layer"]').all()) {
        const want = LAYERS.includes((await box.getAttribute("value")) ?? "");
        if ((await box.isChecked()) !== want) await box.setChecked(want);
      }
      const checked = await runForm
        .locator('input[name="layer"]:checked')
        .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
      expect(checked).toStrictEqual(LAYERS);
      await runForm.getByRole("button", { name: "Start run" }).click();
      await page.waitForURL(/\/runs\/\d+$/);
      await expect(page.locator("h1").textContent()).resolves.toMatch(/^Run #\d+: bee$/);

      // live progress over SSE: the bar moves and reaches 100 %
      const bar = page.getByRole("progressbar");
      const seen = new Set<number>();
      for (const end = Date.now() + 300_000; ; ) {
        const v = Number(await bar.getAttribute("aria-valuenow"));
        seen.add(v);
        if (v === 100) break;
        const failed = page.locator('main [role="alert"]'); // (Next's route announcer is an alert too)
        if ((await failed.count()) > 0)
          throw new Error(`the run page shows an error: ${await failed.first().textContent()}`);
        if (Date.now() > end) throw new Error(`progress stuck at ${v} %`);
        await page.waitForTimeout(100);
      }
      expect(await page.getByTestId("progress-text").textContent()).toBe("100%");
      await page.getByText("succeeded", { exact: true }).first().waitFor();
      // the log came over the subscription: both layer pairs checkpointed, the circuit stored
      const log = page.getByTestId("run-log");
      await log.getByText(/circuit \d+ stored/).waitFor();
      // the header line follows the run without a reload: the backend that ran it, the attempt
      await page
        .getByTestId("run-facts")
        .filter({ hasText: /backend (?!—)\S+ .* attempt 1\/3/ })
        .waitFor();
      expect(await log.getByText(/done in .* \(checkpoint\)/).count()).toBe(LAYERS.length - 1);
      const timingRows = page.locator("tr").filter({ hasText: "←" });
      expect(await timingRows.count()).toBe(LAYERS.length - 1);
      expect([...seen].some((v) => v < 100)).toBe(true);

      // the circuit
      await page.getByRole("link", { name: /Open the circuit/ }).click();
      await page.waitForURL(/\/circuits\/\d+$/);
      await expect(page.locator("h1").textContent()).resolves.toBe("Circuit of “bee”");
      // a tab names its page, and the site has an icon
      expect(await page.title()).toBe("Circuit of “bee” · NeurFlow Studio");
      const icon = await page.locator('link[rel="icon"]').first().getAttribute("href");
      const iconRes = await page.request.get(new URL(icon!, page.url()).href);
      expect([iconRes.status(), iconRes.headers()["content-type"]]).toStrictEqual([200, "image/svg+xml"]);
      const summary = await page.locator("main").innerText();
      expect(summary).toContain("fc ← layer4.1");
      expect(summary).toContain("layer4.1 ← layer4.0");
      const exported = await page.request.get(`${page.url().replace(/\/circuits\//, "/api/circuits/")}/export`);
      expect(exported.status()).toBe(200);
      const doc = (await exported.json()) as {
        format: string;
        class: { name: string };
        params: { tau: number; k: number; igSteps: number; layers: string[] };
      };
      expect(doc.format).toBe("neurflow-circuit/1");
      expect(doc.class.name).toBe("bee");
      expect(doc.params).toMatchObject({ tau: 3, k: 12, igSteps: 4, layers: LAYERS });

      // a second run, canceled after a confirmation: its page leads back to the run form
      await page.goto(modelUrl);
      await runForm.locator('input[name="tau"]').fill("3");
      await runForm.getByRole("button", { name: "Start run" }).click();
      await page.waitForURL(/\/runs\/\d+$/);
      const asked: string[] = [];
      page.once("dialog", (d) => {
        asked.push(d.message());
        void d.accept();
      });
      await page.getByRole("button", { name: "Cancel" }).click();
      expect(asked[0]).toMatch(/^Cancel run #\d+\?/);
      await page.getByTestId("run-again").waitFor({ timeout: 60_000 });
      await page.getByTestId("run-again").getByRole("link").click();
      await page.waitForURL(new RegExp(`${modelUrl.replace(/[/.]/g, "\\$&")}#start-run$`));
    }),
  );
});
