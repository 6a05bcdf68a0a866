/**
 * Account administration and where sign-in returns to, end to end (production build, `next start`,
 * headless Chromium): an admin adds an account on /users and changes roles there, a viewer is
 * turned away, and sign-in goes back to the page that sent the visitor there, but only to a path
 * of this site.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { users } from "~/db/schema";
import {
  ADMIN,
  E2E_SETUP_TIMEOUT_MS,
  launchBrowser,
  signIn,
  startPlatform,
  type Credentials,
  type Platform,
} from "./helpers";

const ALICE: Credentials = { username: "alice", password: "alice-password-e2e" };

let platform: Platform;
let browser: Browser;
let adminCtx: BrowserContext;
let admin: Page;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  platform = await startPlatform({ workers: 0 });
  browser = await launchBrowser();
  adminCtx = await browser.newContext();
  admin = await adminCtx.newPage();
  admin.setDefaultTimeout(30_000);
  await signIn(admin, platform); // the first account: admin
}, E2E_SETUP_TIMEOUT_MS);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await platform?.stop();
});

/** A fresh browser context (no session). */
async function freshPage(): Promise<Page> {
  const ctx = await browser.newContext();
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  return page;
}

/** Fills the sign-in form the page shows now and submits it. */
async function submitSignIn(page: Page, user: Credentials): Promise<void> {
  await page.locator('input[name="username"]').fill(user.username);
  await page.locator('input[name="password"]').fill(user.password);
  await page.locator('button[type="submit"]').click();
  await page.getByTestId("whoami").filter({ hasText: user.username }).waitFor();
}

const accountRows = () => platform.db().select().from(users).all();

async function withOutput(f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- server output ---\n${platform.output().slice(-5000)}`;
    throw e;
  }
}

describe("account administration on /users", () => {
  it("an admin creates an annotator through the page, and the new account signs in", { timeout: 120_000 }, () =>
    withOutput(async () => {
      await admin.goto(`${platform.url}/`);
      await admin.locator("header").getByRole("link", { name: "Users" }).click();
      await admin.waitForURL((u) => u.pathname === "/users");
      const adminRow = admin.getByTestId("account-admin");
      expect(await adminRow.innerText()).toMatch(/admin[\s\S]*\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
      expect(await admin.getByLabel("Role of admin").inputValue()).toBe("admin");

      const form = admin.getByTestId("create-account");
      await form.locator('input[name="new-username"]').fill(ALICE.username);
      await form.locator('input[name="new-password"]').fill(ALICE.password);
      await form.locator('select[name="new-role"]').selectOption("annotator");
      await form.getByRole("button", { name: "Create account" }).click();
      await form.getByText("Created alice (annotator).").waitFor();
      // the list re-rendered from the server, and the form is empty again
      await admin.getByTestId("account-alice").waitFor();
      expect(await admin.getByLabel("Role of alice").inputValue()).toBe("annotator");
      expect(await form.locator('input[name="new-username"]').inputValue()).toBe("");
      expect(accountRows().find((u) => u.username === "alice")?.role).toBe("annotator");

      const alice = await freshPage();
      await signIn(alice, platform, ALICE);
      expect(await alice.getByTestId("whoami").textContent()).toBe("alice · annotator");
      // the nav offers Users only to admins
      expect(await alice.locator("header").getByRole("link", { name: "Users" }).count()).toBe(0);
      expect(await admin.locator("header").getByRole("link", { name: "Users" }).count()).toBe(1);
    }),
  );

  it(
    "a taken name shows the conflict and creates nothing; a bad name shows the server's check",
    { timeout: 60_000 },
    () =>
      withOutput(async () => {
        await admin.goto(`${platform.url}/users`);
        const before = accountRows().length;
        const form = admin.getByTestId("create-account");
        await form.locator('input[name="new-username"]').fill("alice");
        await form.locator('input[name="new-password"]').fill("another-password");
        await form.locator('select[name="new-role"]').selectOption("admin");
        await form.getByRole("button", { name: "Create account" }).click();
        await form.getByRole("alert").filter({ hasText: 'the username "alice" is taken' }).waitFor();
        expect(accountRows().length).toBe(before);
        expect(accountRows().find((u) => u.username === "alice")?.role).toBe("annotator");

        await form.locator('input[name="new-username"]').fill("ab");
        await form.getByRole("button", { name: "Create account" }).click();
        await form.getByRole("alert").filter({ hasText: "username: a username has at least 3 characters" }).waitFor();
        await form.locator('input[name="new-username"]').fill("bob");
        await form.locator('input[name="new-password"]').fill("short");
        await form.getByRole("button", { name: "Create account" }).click();
        await form.getByRole("alert").filter({ hasText: "password: a password has at least 8 characters" }).waitFor();
        expect(accountRows().length).toBe(before);
        expect(await admin.getByTestId("account-bob").count()).toBe(0);
      }),
  );

  it("a role change takes effect, and the last admin cannot be demoted", { timeout: 60_000 }, () =>
    withOutput(async () => {
      await admin.goto(`${platform.url}/users`);
      const alice = await freshPage();
      await signIn(alice, platform, ALICE);
      expect(await alice.getByTestId("whoami").textContent()).toBe("alice · annotator");

      await admin.getByLabel("Role of alice").selectOption("viewer");
      await admin.getByRole("status").filter({ hasText: "alice is now viewer." }).waitFor();
      expect(accountRows().find((u) => u.username === "alice")?.role).toBe("viewer");
      await admin.reload();
      expect(await admin.getByLabel("Role of alice").inputValue()).toBe("viewer");
      // alice's open session reads her role per request
      await alice.reload();
      expect(await alice.getByTestId("whoami").textContent()).toBe("alice · viewer");

      await admin.getByLabel("Role of admin").selectOption("annotator");
      await admin
        .getByRole("alert")
        .filter({ hasText: "Could not change the role of admin: the last admin cannot be demoted" })
        .waitFor();
      // the selector shows the role the server kept
      await expect.poll(() => admin.getByLabel("Role of admin").inputValue()).toBe("admin");
      expect(accountRows().find((u) => u.username === "admin")?.role).toBe("admin");
    }),
  );

  it("a viewer cannot use the page", { timeout: 60_000 }, () =>
    withOutput(async () => {
      expect(accountRows().find((u) => u.username === "alice")?.role).toBe("viewer");
      const alice = await freshPage();
      await signIn(alice, platform, ALICE);
      await alice.goto(`${platform.url}/users`);
      expect(new URL(alice.url()).pathname).toBe("/users");
      expect(await alice.getByTestId("admins-only").innerText()).toContain(
        "Only admins manage accounts; you are signed in as viewer.",
      );
      expect(await alice.getByTestId("create-account").count()).toBe(0);
      expect(await alice.getByTestId("accounts").count()).toBe(0);
      expect(await alice.locator("header").getByRole("link", { name: "Users" }).count()).toBe(0);
      // nor the procedures behind it
      const r = await alice.request.post(`${platform.url}/api/trpc/users.create`, {
        headers: { "content-type": "application/json" },
        data: { json: { username: "mallory", password: "mallory-password", role: "admin" } },
      });
      expect(r.status()).toBe(403);
      expect(accountRows().some((u) => u.username === "mallory")).toBe(false);
    }),
  );
});

describe("sign-in returns to where you were going", () => {
  it("a signed-out visit to a deep link returns there after sign-in", { timeout: 60_000 }, () =>
    withOutput(async () => {
      const page = await freshPage();
      await page.goto(`${platform.url}/circuits/1/view?node=g2`);
      await page.waitForURL((u) => u.pathname === "/signin");
      expect(new URL(page.url()).searchParams.get("next")).toBe("/circuits/1/view?node=g2");
      await submitSignIn(page, ADMIN);
      await page.waitForURL((u) => u.pathname === "/circuits/1/view");
      expect(new URL(page.url()).search).toBe("?node=g2");

      // a page that renders: /users, then signed in, /signin?next= goes straight there
      const other = await freshPage();
      await other.goto(`${platform.url}/users`);
      await other.waitForURL((u) => u.pathname === "/signin" && u.searchParams.get("next") === "/users");
      await submitSignIn(other, ADMIN);
      await other.waitForURL((u) => u.pathname === "/users");
      await other.getByTestId("account-alice").waitFor();
      await other.goto(`${platform.url}/signin?next=${encodeURIComponent("/circuits?q=bee")}`);
      await other.waitForURL((u) => u.pathname === "/circuits" && u.search === "?q=bee");

      // a plain visit to / still signs in to /
      const home = await freshPage();
      await home.goto(`${platform.url}/`);
      await home.waitForURL((u) => u.pathname === "/signin");
      expect(new URL(home.url()).search).toBe("");
    }),
  );

  it("after signing out, Back shows no signed-in page", { timeout: 60_000 }, () =>
    withOutput(async () => {
      const page = await freshPage();
      await page.goto(`${platform.url}/signin`);
      await submitSignIn(page, ADMIN);
      await page.goto(`${platform.url}/users`); // a client-side history of signed-in pages
      await page.getByRole("link", { name: "Circuits" }).click();
      await page.waitForURL((u) => u.pathname === "/circuits");
      await page.getByRole("button", { name: /sign out/i }).click();
      await page.waitForURL((u) => u.pathname === "/signin");
      await page.goBack();
      await page.waitForLoadState();
      await expect.poll(() => new URL(page.url()).pathname, { timeout: 15_000 }).toBe("/signin");
      expect(await page.getByTestId("whoami").count()).toBe(0);
    }),
  );

  for (const next of ["//evil.example", "https://evil.example", "/\\evil.example", "/.//evil.example"]) {
    it(`a next of ${next} lands on / instead`, { timeout: 60_000 }, () =>
      withOutput(async () => {
        const page = await freshPage();
        await page.goto(`${platform.url}/signin?next=${encodeURIComponent(next)}`);
        await submitSignIn(page, ALICE);
        await page.waitForURL((u) => u.pathname === "/");
        expect(page.url()).toBe(`${platform.url}/`);
        // and signed in already, the sign-in page sends it to / too
        await page.goto(`${platform.url}/signin?next=${encodeURIComponent(next)}`);
        expect(page.url()).toBe(`${platform.url}/`);
      }),
    );
  }
});
