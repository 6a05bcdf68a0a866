/**
 * Share-link rate limits (server/security/rateLimit.ts, ShareGuard) on the tRPC HTTP handler and
 * the image routes, with the client address in X-Forwarded-For as the web process gets it: an
 * address that tries many unknown, revoked or expired tokens is refused with 429 and Retry-After
 * (before the database is asked, so its valid links too), other addresses with valid links are
 * not; one valid link's uses from one address are capped per window and let through after it.
 */
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleTrpcRequest } from "~/server/api/httpHandler";
import { imageParams, serveCircuitImage } from "~/server/circuits/imageRoute";
import { renderCircuitImage } from "~/server/circuits/renders";
import { shareLinks } from "~/db/schema";
import { createShareLink, SHARE_HEADER } from "~/server/share/links";
import { syntheticCircuit } from "../helpers/syntheticCircuit";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset, type Seeded } from "../helpers/viewerSeed";

// read when the process's guard is made (first share-token use): a small per-link window
process.env.NEURFLOW_SHARE_REQUESTS = "20";
process.env.NEURFLOW_SHARE_REQUEST_WINDOW_S = "2";
delete process.env.NEURFLOW_SHARE_FAILS;

let env: TestEnv;
let seeded: Seeded;
let token = "";
let revoked = "";
let expired = "";

beforeAll(async () => {
  env = await makeEnv();
  const base = await seedModelAndDataset(env.as.admin);
  seeded = seedCircuit(env.db, base, syntheticCircuit({ seed: 7 }));
  token = (
    await env.as.viewer.shareLinks.create({
      circuitId: seeded.circuitId,
      viewState: { selected: null, threshold: 0, zoom: null, pan: null, heatmaps: false },
    })
  ).token;
  const viewState = { selected: null, threshold: 0, zoom: null, pan: null, heatmaps: false };
  const r = createShareLink(env.db, { circuitId: seeded.circuitId, viewState, createdBy: null, expiresAt: null });
  env.db.update(shareLinks).set({ revokedAt: Date.now() }).where(eq(shareLinks.id, r.id)).run();
  revoked = r.token;
  expired = createShareLink(env.db, {
    circuitId: seeded.circuitId,
    viewState,
    createdBy: null,
    expiresAt: Date.now() - 1000,
  }).token;
});
afterAll(() => env.close());

/** Unknown tokens, with a revoked and an expired link's now and then: all failed resolutions. */
const badToken = (i = 3) => (i % 10 === 1 ? revoked : i % 10 === 2 ? expired : randomBytes(32).toString("base64url"));

/** `circuitGraph.get` of the seeded circuit over the tRPC HTTP handler, with a share token, from `ip`. */
function graphGet(share: string, ip: string): Promise<Response> {
  const input = encodeURIComponent(JSON.stringify({ json: { id: seeded.circuitId } }));
  const req = new Request(`http://localhost/api/trpc/circuitGraph.get?input=${input}`, {
    headers: { [SHARE_HEADER]: share, "x-forwarded-for": ip },
  });
  return handleTrpcRequest(req, { db: env.db, queue: env.queue, storageRoot: env.storageRoot });
}

/** The circuit's thumbnail route with `?share=`, from `ip`. */
function thumb(share: string, ip: string): Promise<Response> {
  const req = new Request(`http://localhost/api/circuits/${seeded.circuitId}/thumb?share=${share}`, {
    headers: { "x-forwarded-for": `203.0.113.9, ${ip}` },
  });
  return serveCircuitImage(
    req,
    { id: String(seeded.circuitId) },
    imageParams.circuit,
    (db, root, p) => renderCircuitImage(db, root, p.id, "thumb"),
    { db: env.db, storageRoot: env.storageRoot },
  );
}

const retryAfter = (r: Response) => Number(r.headers.get("retry-after"));

describe("failed share-token resolutions per address", () => {
  it("tRPC: 40 unknown, revoked or expired tokens from one address → 30 refused as unknown, then 429 with Retry-After, its valid link too", async () => {
    const statuses: number[] = [];
    let limited: Response | null = null;
    for (let i = 0; i < 40; i++) {
      const r = await graphGet(badToken(i), "10.7.0.1");
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    expect(statuses.slice(0, 30)).toStrictEqual(Array(30).fill(401));
    expect(statuses.slice(30)).toStrictEqual(Array(10).fill(429));
    expect(retryAfter(limited!)).toBeGreaterThan(0);
    expect(retryAfter(limited!)).toBeLessThanOrEqual(300);
    const body = await limited!.json();
    expect(body.error.json.message).toMatch(/too many unknown, revoked or expired share links .*try again in \d+ s/);
    // refused before the token is looked up: the address's valid link is refused as well
    const valid = await graphGet(token, "10.7.0.1");
    expect(valid.status).toBe(429);
    expect(retryAfter(valid)).toBeGreaterThan(0);
    // another address with the valid link is not affected
    const other = await graphGet(token, "10.7.0.2");
    expect(other.status).toBe(200);
    expect((await other.json()).result.data.json.circuit.id).toBe(seeded.circuitId);
  });

  it("image route: 40 unknown, revoked or expired tokens from one address → 30 × 403, then 429 with Retry-After; a valid link elsewhere still renders", async () => {
    const statuses: number[] = [];
    let limited: Response | null = null;
    for (let i = 0; i < 40; i++) {
      const r = await thumb(badToken(i), "10.8.0.1");
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    expect(statuses.slice(0, 30)).toStrictEqual(Array(30).fill(403));
    expect(statuses.slice(30)).toStrictEqual(Array(10).fill(429));
    expect(retryAfter(limited!)).toBeGreaterThan(0);
    expect(limited!.headers.get("cache-control")).toBe("no-store");
    expect((await limited!.json()).error).toMatch(/share links from your address; try again in \d+ s/);
    expect((await thumb(token, "10.8.0.1")).status).toBe(429);
    // the tRPC path counts the same address's failures together with the image routes
    expect((await graphGet(token, "10.8.0.1")).status).toBe(429);
    const other = await thumb(token, "10.8.0.2");
    expect(other.status).toBe(200);
    expect(other.headers.get("content-type")).toBe("image/png");
  });
});

describe("uses of one valid link per address", () => {
  it("are capped per window (NEURFLOW_SHARE_REQUESTS) with Retry-After, not for other addresses, and let through after the window", async () => {
    const statuses: number[] = [];
    let limited: Response | null = null;
    for (let i = 0; i < 25; i++) {
      const r = await thumb(token, "10.9.0.1");
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    expect(statuses.slice(0, 20)).toStrictEqual(Array(20).fill(200));
    expect(statuses.slice(20)).toStrictEqual(Array(5).fill(429));
    expect(retryAfter(limited!)).toBeGreaterThan(0);
    expect((await limited!.json()).error).toMatch(/this share link was used for more than 20 requests in 2 s/);
    // tRPC reads with the link count towards the same limit
    const trpc = await graphGet(token, "10.9.0.1");
    expect(trpc.status).toBe(429);
    expect(retryAfter(trpc)).toBeGreaterThan(0);
    expect((await thumb(token, "10.9.0.2")).status).toBe(200);
    await new Promise((r) => setTimeout(r, (retryAfter(limited!) + 0.2) * 1000));
    expect((await thumb(token, "10.9.0.1")).status).toBe(200);
    expect((await graphGet(token, "10.9.0.1")).status).toBe(200);
  });

  it("do not count towards the failure limit: after valid uses, an unknown token is refused as unknown, not blocked", async () => {
    // in-window uses from one address stay under the per-link cap; failures start from zero
    for (let i = 0; i < 10; i++) expect((await thumb(token, "10.10.0.1")).status).toBe(200);
    expect((await thumb(badToken(), "10.10.0.1")).status).toBe(403);
  });
});
