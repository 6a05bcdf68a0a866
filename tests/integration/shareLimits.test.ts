/**
 * Share-link rate limits (server/security/rateLimit.ts, ShareGuard) on the tRPC HTTP handler and
 * the image routes, with the client address as the web process gets it (the socket's address
 * stamped in `x-neurflow-peer`, server/security/clientAddress.ts), and an X-Forwarded-For that the
 * client changes on every request, which must make no difference by default: an address that
 * tries many unknown, revoked or expired tokens is refused with 429 and Retry-After (before the
 * database is asked, so its valid links too), other addresses with valid links are not; one valid
 * link's uses from one address are capped per window and let through after it. With
 * NEURFLOW_TRUST_PROXY = 1 the address is the last X-Forwarded-For hop. And the share link that
 * `shareLinks.create` returns is on NEURFLOW_PUBLIC_URL whatever Host headers the request carries.
 */
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleTrpcRequest } from "~/server/api/httpHandler";
import { imageParams, serveCircuitImage } from "~/server/circuits/imageRoute";
import { renderCircuitImage } from "~/server/circuits/renders";
import { clientAddress, PEER_HEADER, peerStamp, UNVERIFIED_ADDRESS } from "~/server/security/clientAddress";
import { shareLinks } from "~/db/schema";
import { SESSION_COOKIE } from "~/server/auth/sessions";
import { createShareLink, SHARE_HEADER } from "~/server/share/links";
import { syntheticCircuit } from "../helpers/syntheticCircuit";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset, type Seeded } from "../helpers/viewerSeed";

// read when the process's guard is made (first share-token use): a small per-link window
process.env.NEURFLOW_SHARE_REQUESTS = "20";
process.env.NEURFLOW_SHARE_REQUEST_WINDOW_S = "2";
delete process.env.NEURFLOW_SHARE_FAILS;
delete process.env.NEURFLOW_TRUST_PROXY;

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

/** A different made-up address each call: what a client may put in X-Forwarded-For. */
let forged = 0;
const forgedHop = () => `198.51.${Math.floor(++forged / 250) % 250}.${(forged % 250) + 1}`;

/**
 * The headers of a request from the socket address `ip`, as the web process's stamp gives them,
 * with a client-chosen X-Forwarded-For (`xff`, by default a new made-up one, one or two hops).
 */
function from(ip: string, xff = forged % 2 ? forgedHop() : `${forgedHop()}, ${forgedHop()}`): Record<string, string> {
  return { [PEER_HEADER]: peerStamp(ip), "x-forwarded-for": xff };
}

/** `circuitGraph.get` of the seeded circuit over the tRPC HTTP handler, with a share token, from `ip`. */
function graphGet(share: string, ip: string, headers = from(ip)): Promise<Response> {
  const input = encodeURIComponent(JSON.stringify({ json: { id: seeded.circuitId } }));
  const req = new Request(`http://localhost/api/trpc/circuitGraph.get?input=${input}`, {
    headers: { [SHARE_HEADER]: share, ...headers },
  });
  return handleTrpcRequest(req, { db: env.db, queue: env.queue, storageRoot: env.storageRoot });
}

/** The circuit's thumbnail route with `?share=`, from `ip`. */
function thumb(share: string, ip: string, headers = from(ip)): Promise<Response> {
  const req = new Request(`http://localhost/api/circuits/${seeded.circuitId}/thumb?share=${share}`, { headers });
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

describe("the client address (NEURFLOW_TRUST_PROXY)", () => {
  const withTrust = async (hops: string | undefined, f: () => Promise<void> | void) => {
    const saved = process.env.NEURFLOW_TRUST_PROXY;
    if (hops === undefined) delete process.env.NEURFLOW_TRUST_PROXY;
    else process.env.NEURFLOW_TRUST_PROXY = hops;
    try {
      await f();
    } finally {
      if (saved === undefined) delete process.env.NEURFLOW_TRUST_PROXY;
      else process.env.NEURFLOW_TRUST_PROXY = saved;
    }
  };
  const h = (o: Record<string, string>) => new Headers(o);

  it("by default is the stamped socket address: X-Forwarded-For and forged stamps are ignored", () =>
    withTrust(undefined, () => {
      expect(clientAddress(h({ [PEER_HEADER]: peerStamp("::ffff:10.12.0.1"), "x-forwarded-for": "1.2.3.4" }))).toBe(
        "10.12.0.1",
      );
      expect(clientAddress(h({ [PEER_HEADER]: peerStamp("2001:db8::1") }))).toBe("2001:db8::1");
      // no valid stamp: one shared address, whatever the client claims
      expect(clientAddress(h({ "x-forwarded-for": "1.2.3.4" }))).toBe(UNVERIFIED_ADDRESS);
      expect(clientAddress(h({ [PEER_HEADER]: "guess 10.12.0.2", "x-forwarded-for": "1.2.3.5" }))).toBe(
        UNVERIFIED_ADDRESS,
      );
      expect(clientAddress(h({ [PEER_HEADER]: `${peerStamp("10.12.0.3").split(" ")[0]}x 10.12.0.3` }))).toBe(
        UNVERIFIED_ADDRESS,
      );
      // an in-process caller: no address, not counted
      expect(clientAddress(h({ [SHARE_HEADER]: "t" }))).toBeNull();
    }));

  it("with n trusted proxies is the n-th hop from the socket, the first hop when there are fewer", () =>
    withTrust("2", () => {
      const proxy = { [PEER_HEADER]: peerStamp("10.12.1.254") };
      expect(clientAddress(h({ ...proxy, "x-forwarded-for": "6.6.6.6, 10.12.1.1, 10.12.1.2" }))).toBe("10.12.1.1");
      expect(clientAddress(h({ ...proxy, "x-forwarded-for": "10.12.1.3" }))).toBe("10.12.1.3");
      expect(clientAddress(h(proxy))).toBe("10.12.1.254");
      process.env.NEURFLOW_TRUST_PROXY = "1";
      expect(clientAddress(h({ ...proxy, "x-forwarded-for": "6.6.6.6, 10.12.1.1, 10.12.1.2" }))).toBe("10.12.1.2");
      process.env.NEURFLOW_TRUST_PROXY = "yes";
      expect(() => clientAddress(h(proxy))).toThrow(/NEURFLOW_TRUST_PROXY "yes"/);
    }));

  it("with 1 trusted proxy, failed share tokens count against the last X-Forwarded-For hop, not the proxy's address nor the first hop", () =>
    withTrust("1", async () => {
      const proxy = peerStamp("10.13.0.254");
      const via = (xff: string) => ({ [PEER_HEADER]: proxy, "x-forwarded-for": xff });
      const statuses: number[] = [];
      for (let i = 0; i < 35; i++)
        statuses.push((await graphGet(badToken(i), "", via(`${forgedHop()}, 10.13.0.1`))).status);
      expect(statuses.slice(0, 30)).toStrictEqual(Array(30).fill(401));
      expect(statuses.slice(30)).toStrictEqual(Array(5).fill(429));
      expect((await thumb(token, "", via("10.13.0.1"))).status).toBe(429);
      // the blocked address as a client-written first hop, another client behind the same proxy
      expect((await graphGet(token, "", via("10.13.0.1, 10.13.0.2"))).status).toBe(200);
      expect((await thumb(token, "", via("10.13.0.3"))).status).toBe(200);
    }));
});

describe("shareLinks.create over HTTP with forged Host headers", () => {
  const create = (headers: Record<string, string>) =>
    handleTrpcRequest(
      new Request("http://evil.example/api/trpc/shareLinks.create", {
        method: "POST",
        headers: { "content-type": "application/json", cookie: `${SESSION_COOKIE}=${env.tokens.viewer}`, ...headers },
        body: JSON.stringify({
          json: {
            circuitId: seeded.circuitId,
            viewState: { selected: null, threshold: 0, zoom: null, pan: null, heatmaps: false },
          },
        }),
      }),
      { db: env.db, queue: env.queue, storageRoot: env.storageRoot },
    );
  const forged = {
    host: "evil.example",
    "x-forwarded-host": "evil.example:8443",
    "x-forwarded-proto": "https",
    forwarded: "host=evil.example;proto=https",
  };

  it("returns a url on NEURFLOW_PUBLIC_URL, never on Host or X-Forwarded-Host", async () => {
    const saved = process.env.NEURFLOW_PUBLIC_URL;
    process.env.NEURFLOW_PUBLIC_URL = "https://neurflow.example.org";
    try {
      const r = await create(forged);
      expect(r.status).toBe(200);
      const link = (await r.json()).result.data.json as { token: string; url: string };
      expect(link.url).toBe(`https://neurflow.example.org/s/${link.token}`);
      // unset (local development): the local origin, still not the request's host
      delete process.env.NEURFLOW_PUBLIC_URL;
      const local = (await (await create(forged)).json()).result.data.json as { token: string; url: string };
      expect(local.url).toBe(`http://localhost:${process.env.PORT?.trim() || "3000"}/s/${local.token}`);
      expect(JSON.stringify(local)).not.toContain("evil");
    } finally {
      if (saved === undefined) delete process.env.NEURFLOW_PUBLIC_URL;
      else process.env.NEURFLOW_PUBLIC_URL = saved;
    }
  });
});
