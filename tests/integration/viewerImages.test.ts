/**
 * The image routes (patches, mosaics, Open Graph image, thumbnail): access (session, or a live
 * share link of that circuit only), caching headers and 304s, rendered once and reused from
 * storage, and the patch geometry against an independent crop.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageParams, serveCircuitImage, CACHE_SHARE, CACHE_USER } from "~/server/circuits/imageRoute";
import { loadGraph } from "~/server/circuits/graph";
import { renderCircuitImage, renderMosaic, renderPatch, rendersDir, renderStats } from "~/server/circuits/renders";
import { FIXTURE_IMAGES } from "../helpers/fixtures";
import { syntheticCircuit } from "../helpers/syntheticCircuit";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset, type Seeded } from "../helpers/viewerSeed";

let env: TestEnv;
let one: Seeded;
let two: Seeded;
let shareOne: { id: number; token: string };

beforeAll(async () => {
  env = await makeEnv();
  const base = await seedModelAndDataset(env.as.admin);
  one = seedCircuit(env.db, base, syntheticCircuit({ seed: 7 }));
  two = seedCircuit(env.db, base, syntheticCircuit({ seed: 8, className: "sun" }));
  shareOne = await env.as.viewer.shareLinks.create({
    circuitId: one.circuitId,
    viewState: { selected: null, threshold: 0, zoom: null, pan: null, heatmaps: false },
  });
});
afterAll(() => env.close());

type Kind = "patch" | "mosaic" | "og" | "thumb";

function get(
  kind: Kind,
  params: Record<string, string>,
  opts: { cookie?: string; share?: string; etag?: string } = {},
): Promise<Response> {
  const q = opts.share ? `?share=${opts.share}` : "";
  const headers = new Headers();
  if (opts.cookie) headers.set("cookie", `nf_session=${opts.cookie}`);
  if (opts.etag) headers.set("if-none-match", opts.etag);
  const req = new Request(`http://localhost/api/circuits/${params.id}/${kind}${q}`, { headers });
  const e = { db: env.db, storageRoot: env.storageRoot };
  switch (kind) {
    case "patch":
      return serveCircuitImage(req, params, imageParams.patch, (db, root, p) => renderPatch(db, root, p.id, p.idx), e);
    case "mosaic":
      return serveCircuitImage(
        req,
        params,
        imageParams.group,
        (db, root, p) => renderMosaic(db, root, p.id, p.group),
        e,
      );
    default:
      return serveCircuitImage(
        req,
        params,
        imageParams.circuit,
        (db, root, p) => renderCircuitImage(db, root, p.id, kind),
        e,
      );
  }
}

const id = () => String(one.circuitId);

describe("image routes", () => {
  it("refuse anonymous callers and other circuits' or dead share links", async () => {
    expect((await get("patch", { id: id(), idx: "0" })).status).toBe(401);
    expect((await get("mosaic", { id: id(), group: "1" })).status).toBe(401);
    expect((await get("og", { id: id() })).status).toBe(401);
    expect((await get("patch", { id: String(two.circuitId), idx: "0" }, { share: shareOne.token })).status).toBe(403);
    expect((await get("thumb", { id: id() }, { share: "B".repeat(43) })).status).toBe(403);
    const dead = await env.as.viewer.shareLinks.create({
      circuitId: one.circuitId,
      viewState: { selected: null, threshold: 0, zoom: null, pan: null, heatmaps: false },
    });
    await env.as.viewer.shareLinks.revoke({ id: dead.id });
    const r = await get("patch", { id: id(), idx: "0" }, { share: dead.token });
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ error: "this share link was revoked by its owner" });
    expect(r.headers.get("cache-control")).toBe("no-store");
  });

  it("validate path parameters and answer 404 for what does not exist", async () => {
    expect((await get("patch", { id: id(), idx: "-1" }, { cookie: env.tokens.viewer })).status).toBe(400);
    expect((await get("patch", { id: "x", idx: "1" }, { cookie: env.tokens.viewer })).status).toBe(400);
    expect((await get("patch", { id: id(), idx: "100000" }, { cookie: env.tokens.viewer })).status).toBe(404);
    const otherGroup = loadGraph(env.db, two.circuitId)!.groups[0]!.id;
    expect((await get("mosaic", { id: id(), group: String(otherGroup) }, { cookie: env.tokens.viewer })).status).toBe(
      404,
    );
  });

  it("serve PNGs with ETag and Cache-Control, 304 on a match, rendered once and reused", async () => {
    const before = renderStats.produced;
    const a = await get("patch", { id: id(), idx: "5" }, { cookie: env.tokens.viewer });
    expect(a.status).toBe(200);
    expect(a.headers.get("content-type")).toBe("image/png");
    expect(a.headers.get("cache-control")).toBe(CACHE_USER);
    const etag = a.headers.get("etag")!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    const b = await get("patch", { id: id(), idx: "5" }, { cookie: env.tokens.annotator });
    expect(b.headers.get("etag")).toBe(etag);
    expect(Buffer.from(await b.arrayBuffer())).toStrictEqual(Buffer.from(await a.arrayBuffer()));
    expect(renderStats.produced).toBe(before + 1);
    expect(existsSync(join(rendersDir(env.storageRoot, one.circuitId), "patch-5.png"))).toBe(true);
    const c = await get("patch", { id: id(), idx: "5" }, { cookie: env.tokens.viewer, etag });
    expect(c.status).toBe(304);
    expect(c.headers.get("etag")).toBe(etag);
    const s = await get("patch", { id: id(), idx: "5" }, { share: shareOne.token, etag: '"other"' });
    expect(s.status).toBe(200);
    expect(s.headers.get("cache-control")).toBe(CACHE_SHARE);
    expect(readdirSync(rendersDir(env.storageRoot, one.circuitId)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("concurrent requests for a new image render it once", async () => {
    const before = renderStats.produced;
    const rs = await Promise.all(
      Array.from({ length: 5 }, () => get("patch", { id: id(), idx: "9" }, { cookie: env.tokens.viewer })),
    );
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(renderStats.produced).toBe(before + 1);
  });

  it("cut the patch (image, x, y, size) and resize it to the model input size", async () => {
    const circuit = syntheticCircuit({ seed: 7 });
    const idx = circuit.patches.findIndex((p) => p[3] === 32 && p[1] === 16 && p[2] === 16);
    const [img, x, y, size] = circuit.patches[idx]!;
    const r = await get("patch", { id: id(), idx: String(idx) }, { cookie: env.tokens.viewer });
    const got = await sharp(Buffer.from(await r.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(got.info).toMatchObject({ width: 64, height: 64, channels: 3 });
    const want = await sharp(join(FIXTURE_IMAGES, "bee", circuit.images[img]!))
      .removeAlpha()
      .extract({ left: x, top: y, width: size, height: size })
      .resize(64, 64, { kernel: "linear" })
      .raw()
      .toBuffer();
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(want[i]! - got.data[i]!));
    expect(diff).toBeLessThanOrEqual(2);
  });

  it("deleting a circuit removes its rendered files", async () => {
    const three = seedCircuit(
      env.db,
      { modelId: one.modelId, datasetId: one.datasetId },
      syntheticCircuit({ seed: 9 }),
    );
    expect((await get("patch", { id: String(three.circuitId), idx: "1" }, { cookie: env.tokens.viewer })).status).toBe(
      200,
    );
    expect(existsSync(rendersDir(env.storageRoot, three.circuitId))).toBe(true);
    await env.as.admin.circuits.delete({ id: three.circuitId });
    expect(existsSync(rendersDir(env.storageRoot, three.circuitId))).toBe(false);
    expect((await get("patch", { id: String(three.circuitId), idx: "1" }, { cookie: env.tokens.viewer })).status).toBe(
      404,
    );
  });

  it("render mosaics, the Open Graph image and the thumbnail at their sizes", async () => {
    const g = loadGraph(env.db, one.circuitId)!.groups[0]!;
    const m = await get("mosaic", { id: id(), group: String(g.id) }, { share: shareOne.token });
    expect(m.status).toBe(200);
    expect(await sharp(Buffer.from(await m.arrayBuffer())).metadata()).toMatchObject({
      width: 130,
      height: 130,
      format: "png",
    });
    const og = await get("og", { id: id() }, { share: shareOne.token });
    expect(await sharp(Buffer.from(await og.arrayBuffer())).metadata()).toMatchObject({ width: 1200, height: 630 });
    const th = await get("thumb", { id: id() }, { cookie: env.tokens.viewer });
    expect(await sharp(Buffer.from(await th.arrayBuffer())).metadata()).toMatchObject({ width: 320, height: 180 });
  });
});
