/**
 * End-to-end helpers of the viewer tests (platform, build and browser come from ./helpers.ts):
 * the toy-world circuit computed by the engine (class bee, τ 3, k 12, N 4, four layers, four
 * images: a few seconds), stored for a run on the toy-world images so the image routes find
 * them, and small page utilities (wait for the graph, click a node, count visible edges).
 */
import type { Browser, Page } from "playwright-core";
import { createCaller } from "~/server/api/root";
import { createContext } from "~/server/api/context";
import { createSession, SESSION_COOKIE } from "~/server/auth/sessions";
import { SqliteJobQueue } from "~/server/jobs/sqliteQueue";
import type { Circuit } from "~/server/neurflow/light";
import { seedCircuit, seedModelAndDataset, type Seeded } from "../helpers/viewerSeed";
export { toyCircuit, TOY_LAYERS } from "../helpers/viewerSeed";
import { createUser, signIn, type Credentials, type Platform } from "./helpers";

export const VIEWER_ADMIN: Credentials = { username: "admin", password: "admin-password-e2e" };

/** A light-scheme page of a new browser context (1400×900 unless told), signed in as `user`. */
export async function signedInPage(
  browser: Browser,
  platform: Platform,
  viewport = { width: 1400, height: 900 },
  user: Credentials = VIEWER_ADMIN,
): Promise<Page> {
  const ctx = await browser.newContext({ viewport, colorScheme: "light" });
  const page = await ctx.newPage();
  await signIn(page, platform, user);
  return page;
}
/** Admin account + model + dataset + the given circuits, written into the platform's database. */
export async function seedViewer(platform: Platform, circuits: Circuit[]): Promise<Seeded[]> {
  const userId = await createUser(platform, { ...VIEWER_ADMIN, role: "admin" });
  const db = platform.db();
  const { token } = createSession(db, userId);
  const admin = createCaller(
    createContext({
      db,
      queue: new SqliteJobQueue(db),
      storageRoot: platform.dataDir,
      headers: new Headers({ cookie: `${SESSION_COOKIE}=${token}` }),
      resHeaders: null,
    }),
  );
  const base = await seedModelAndDataset(admin);
  return circuits.map((c) => seedCircuit(db, base, c, userId));
}

/** Waits until the viewer drew its graph. */
export async function waitForGraph(page: Page): Promise<void> {
  await page.locator('[data-testid="viewer"][data-ready="1"]').waitFor({ timeout: 30_000 });
}

/** Ids of the nodes / edges Cytoscape currently shows. */
export async function visible(page: Page): Promise<{ nodes: string[]; edges: string[] }> {
  return page.evaluate(() => {
    const cy = window.__viewerCy!;
    const ids = (c: {
      filter(f: (e: { hasClass(c: string): boolean }) => boolean): {
        map(f: (e: { id(): string }) => string): string[];
      };
    }) => c.filter((e) => !e.hasClass("hidden")).map((e) => e.id());
    return { nodes: ids(cy.nodes() as never), edges: ids(cy.edges() as never) };
  });
}

/** Clicks a node where Cytoscape draws it. */
export async function clickNode(page: Page, id: string): Promise<void> {
  const p = await page.evaluate((nid) => {
    const n = window.__viewerCy!.getElementById(nid);
    return n.renderedPosition();
  }, id);
  const box = (await page.getByTestId("circuit-canvas").boundingBox())!;
  await page.mouse.click(box.x + p.x, box.y + p.y);
}

export async function selectedNode(page: Page): Promise<string | null> {
  return page.evaluate(() => window.__viewerCy!.nodes(".sel").map((n) => n.id())[0] ?? null);
}
