/**
 * IG heatmaps of a group's concept patches with the real engine on the toy-world circuit: one PNG
 * per patch at the model input size, completeness of the attribution, the request procedure
 * (deduplicated jobs; share-link holders read the status but cannot request), and the route.
 */
import { existsSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeHeatmaps } from "~/server/heatmaps/compute";
import { loadGraph } from "~/server/circuits/graph";
import { heatmapPath, renderHeatmap } from "~/server/circuits/renders";
import { imageParams, serveCircuitImage } from "~/server/circuits/imageRoute";
import { makeEnv, type TestEnv } from "../helpers/testEnv";
import { seedCircuit, seedModelAndDataset, toyCircuit, type Seeded } from "../helpers/viewerSeed";

let env: TestEnv;
let bee: Seeded;

beforeAll(async () => {
  env = await makeEnv();
  const base = await seedModelAndDataset(env.as.admin);
  bee = seedCircuit(env.db, base, await toyCircuit("bee"));
});
afterAll(() => env.close());

describe("IG heatmaps", () => {
  it("computes one heatmap per concept patch, complete to within the quadrature error", async () => {
    const g = loadGraph(env.db, bee.circuitId)!.groups.find((x) => x.layer === 1)!;
    const r = await computeHeatmaps(env.db, env.storageRoot, bee.circuitId, g.id, { steps: 16 });
    expect(r.patches).toEqual(g.patches);
    expect(r.completeness).toBeLessThan(0.1);
    for (const p of g.patches) expect(existsSync(heatmapPath(env.storageRoot, bee.circuitId, g.id, p))).toBe(true);
    const meta = await sharp(
      (await renderHeatmap(env.storageRoot, bee.circuitId, g.id, g.patches[0]!)).body,
    ).metadata();
    expect(meta).toMatchObject({ width: 64, height: 64, channels: 4 });
    const req = new Request(`http://x/api/circuits/${bee.circuitId}/heatmaps/${g.id}/${g.patches[0]}`, {
      headers: { cookie: `nf_session=${env.tokens.viewer}` },
    });
    const res = await serveCircuitImage(
      req,
      { id: String(bee.circuitId), group: String(g.id), idx: String(g.patches[0]) },
      imageParams.heatmap,
      (_db, root, p) => renderHeatmap(root, p.id, p.group, p.idx),
      { db: env.db, storageRoot: env.storageRoot },
    );
    expect(res.status).toBe(200);
    const anon = await serveCircuitImage(
      new Request(req.url),
      { id: String(bee.circuitId), group: String(g.id), idx: String(g.patches[0]) },
      imageParams.heatmap,
      (_db, root, p) => renderHeatmap(root, p.id, p.group, p.idx),
      { db: env.db, storageRoot: env.storageRoot },
    );
    expect(anon.status).toBe(401);
    const status = await env.as.viewer.heatmaps.status({ id: bee.circuitId, group: g.id });
    expect(status.ready).toEqual(g.patches);
  });

  it("request enqueues one job per group, and share-link holders cannot request", async () => {
    const g = loadGraph(env.db, bee.circuitId)!.groups.find((x) => x.layer === 0)!;
    const a = await env.as.viewer.heatmaps.request({ id: bee.circuitId, group: g.id });
    const b = await env.as.annotator.heatmaps.request({ id: bee.circuitId, group: g.id });
    expect(a.jobId).toBe(b.jobId);
    expect((await env.as.viewer.heatmaps.status({ id: bee.circuitId, group: g.id })).job).toMatchObject({
      status: "queued",
    });
    await expect(env.as.anonymous.heatmaps.request({ id: bee.circuitId, group: g.id })).rejects.toThrow(/sign in/);
  });
});
