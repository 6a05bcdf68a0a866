/**
 * Share links against the API: unguessable tokens stored hashed, the holder reads its circuit's
 * graph and hypertree and nothing else, calls no write procedure (every one answers UNAUTHORIZED
 * and no table changes), revocation and expiry, and who may revoke.
 */
import { TRPCError } from "@trpc/server";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shareLinks } from "~/db/schema";
import { appRouter, createCaller } from "~/server/api/root";
import { createContext } from "~/server/api/context";
import type { Meta } from "~/server/api/trpc";
import { SHARE_HEADER } from "~/lib/circuits/viewTypes";
import { createShareLink, resolveShareToken } from "~/server/share/links";
import { syntheticCircuit } from "../helpers/syntheticCircuit";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset, type Seeded } from "../helpers/viewerSeed";

let env: TestEnv;
let one: Seeded;
let two: Seeded;

beforeAll(async () => {
  env = await makeEnv();
  const base = await seedModelAndDataset(env.as.admin);
  one = seedCircuit(env.db, base, syntheticCircuit({ seed: 3 }));
  two = seedCircuit(env.db, base, syntheticCircuit({ seed: 4, className: "fish" }));
});
afterAll(() => env.close());

function shareCaller(token: string, cookieToken?: string) {
  const headers = new Headers({
    [SHARE_HEADER]: token,
    ...(cookieToken ? { cookie: `nf_session=${cookieToken}` } : {}),
  });
  return createCaller(
    createContext({ db: env.db, queue: env.queue, storageRoot: env.storageRoot, headers, resHeaders: new Headers() }),
  );
}

const view = { selected: null, threshold: 0.25, zoom: 1.5, pan: { x: 10, y: -20 }, heatmaps: false };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (e) {
    return e instanceof TRPCError ? e.code : String(e);
  }
}

function snapshot(): string {
  const tables = env.db.$client
    .prepare(
      "select name from sqlite_master where type='table' and name not like 'sqlite_%' and name not like '__drizzle%'",
    )
    .all() as { name: string }[];
  return tables
    .map((t) => `${t.name}:${JSON.stringify(env.db.$client.prepare(`select * from "${t.name}"`).all())}`)
    .join("\n");
}

describe("share links", () => {
  it("creates an unguessable token and stores only its hash", async () => {
    const a = await env.as.viewer.shareLinks.create({
      circuitId: one.circuitId,
      viewState: { ...view, selected: "logit" },
    });
    const b = await env.as.viewer.shareLinks.create({ circuitId: one.circuitId, viewState: view });
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.token).not.toBe(b.token);
    expect(a.path).toBe(`/s/${a.token}`);
    expect(snapshot()).not.toContain(a.token);
    const r = resolveShareToken(env.db, a.token);
    expect(r.status).toBe("ok");
    if (r.status === "ok") expect(r.link.viewState).toStrictEqual({ ...view, selected: "logit" });
  });

  it("refuses bad view states and unknown circuits", async () => {
    expect(
      await code(
        env.as.viewer.shareLinks.create({ circuitId: one.circuitId, viewState: { ...view, selected: "<script>" } }),
      ),
    ).toBe("BAD_REQUEST");
    expect(
      await code(env.as.viewer.shareLinks.create({ circuitId: one.circuitId, viewState: { ...view, threshold: 2 } })),
    ).toBe("BAD_REQUEST");
    expect(await code(env.as.viewer.shareLinks.create({ circuitId: 99999, viewState: view }))).toBe("NOT_FOUND");
  });

  it("opens its own circuit's graph and hypertree, and nothing else", async () => {
    const { token } = await env.as.annotator.shareLinks.create({ circuitId: one.circuitId, viewState: view });
    const s = shareCaller(token);
    const g = await s.circuitGraph.get({ id: one.circuitId });
    expect(g.circuit.id).toBe(one.circuitId);
    // the graph's ranks are the pairs' upper layers; the chain adds the lowest pair's lower layer
    const doc = syntheticCircuit({ seed: 3 });
    expect(g.circuit.layers).toStrictEqual(doc.layers.map((l) => l.upper));
    expect(g.circuit.chain).toStrictEqual([...doc.layers.map((l) => l.upper), doc.layers.at(-1)!.lower]);
    expect(g.groups.length).toBeGreaterThan(0);
    const top = g.groups.find((x) => x.layer === 0)!;
    const h = await s.circuitGraph.hypertree({ id: one.circuitId, layer: 0, neuron: top.members[0]!.neuron });
    expect(h.coreNeurons.length).toBe(3);
    expect(await code(s.circuitGraph.get({ id: two.circuitId }))).toBe("FORBIDDEN");
    expect(await code(s.circuitGraph.hypertree({ id: two.circuitId, layer: 0, neuron: 3 }))).toBe("FORBIDDEN");
    expect(await code(s.circuits.export({ id: one.circuitId }))).toBe("UNAUTHORIZED");
    expect(await code(s.circuits.list({}))).toBe("UNAUTHORIZED");
    expect(await code(s.shareLinks.list({ circuitId: one.circuitId }))).toBe("UNAUTHORIZED");
  });

  it("cannot call any procedure that needs a session, and changes nothing trying", async () => {
    const { token } = await env.as.viewer.shareLinks.create({ circuitId: one.circuitId, viewState: view });
    const s = shareCaller(token);
    type Procs = Record<string, { _def: { meta?: Meta; type: string } }>;
    const procedures = (appRouter._def as unknown as { procedures: Procs }).procedures;
    const before = snapshot();
    const tried: string[] = [];
    for (const [path, p] of Object.entries(procedures)) {
      const meta = p._def.meta;
      if (!meta || meta.auth === "public" || meta.share) continue;
      let node: unknown = s;
      for (const part of path.split(".")) node = (node as Record<string, unknown>)[part];
      const res = await code(
        (async () => {
          const r = await (node as (i: unknown) => Promise<unknown>)({});
          if (r && typeof r === "object" && Symbol.asyncIterator in r)
            await (r as AsyncIterable<unknown>)[Symbol.asyncIterator]().next();
        })(),
      );
      expect(res, path).toBe("UNAUTHORIZED");
      if (p._def.type === "mutation") tried.push(path);
    }
    expect(tried).toEqual(
      expect.arrayContaining([
        "shareLinks.create",
        "shareLinks.revoke",
        "circuits.import",
        "runs.start",
        "models.upload",
      ]),
    );
    expect(snapshot()).toBe(before);
  });

  it("a share header does not lift a signed-in user's limits, nor lower them", async () => {
    const { token } = await env.as.viewer.shareLinks.create({ circuitId: one.circuitId, viewState: view });
    const s = shareCaller(token, env.tokens.viewer);
    expect((await s.circuitGraph.get({ id: two.circuitId })).circuit.id).toBe(two.circuitId);
    expect(await code(s.circuits.delete({ id: two.circuitId }))).toBe("FORBIDDEN");
  });

  it("revoked and expired links stop working with a clear reason", async () => {
    const { id, token } = await env.as.viewer.shareLinks.create({ circuitId: one.circuitId, viewState: view });
    expect(await code(env.as.annotator.shareLinks.revoke({ id }))).toBe("FORBIDDEN");
    await env.as.viewer.shareLinks.revoke({ id });
    expect(resolveShareToken(env.db, token).status).toBe("revoked");
    await expect(shareCaller(token).circuitGraph.get({ id: one.circuitId })).rejects.toThrow(/revoked/);
    const list = await env.as.viewer.shareLinks.list({ circuitId: one.circuitId });
    expect(list.find((l) => l.id === id)).toMatchObject({ status: "revoked", canRevoke: false });

    const past = createShareLink(env.db, {
      circuitId: one.circuitId,
      viewState: view,
      createdBy: null,
      expiresAt: Date.now() - 1,
    });
    expect(resolveShareToken(env.db, past.token).status).toBe("expired");
    await expect(shareCaller(past.token).circuitGraph.get({ id: one.circuitId })).rejects.toThrow(/expired/);
    // an admin may revoke anyone's link
    const other = await env.as.annotator.shareLinks.create({
      circuitId: one.circuitId,
      viewState: view,
      expiresInDays: 1,
    });
    await env.as.admin.shareLinks.revoke({ id: other.id });
    expect(env.db.select().from(shareLinks).where(eq(shareLinks.id, other.id)).get()!.revokedAt).not.toBeNull();
  });

  it("unknown or malformed tokens open nothing", async () => {
    expect(await code(shareCaller("A".repeat(43)).circuitGraph.get({ id: one.circuitId }))).toBe("UNAUTHORIZED");
    expect(await code(shareCaller("not a token").circuitGraph.get({ id: one.circuitId }))).toBe("UNAUTHORIZED");
    expect(resolveShareToken(env.db, "x".repeat(500)).status).toBe("unknown");
  });

  it("deleting the circuit deletes its links", async () => {
    const base = { modelId: one.modelId, datasetId: one.datasetId };
    const three = seedCircuit(env.db, base, syntheticCircuit({ seed: 5 }));
    const { token } = await env.as.viewer.shareLinks.create({ circuitId: three.circuitId, viewState: view });
    await env.as.admin.circuits.delete({ id: three.circuitId });
    expect(resolveShareToken(env.db, token).status).toBe("unknown");
  });
});
