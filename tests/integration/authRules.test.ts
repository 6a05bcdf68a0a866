/**
 * Every procedure's auth rule. The table below must name every procedure of the app router (a
 * new procedure without a rule fails this test), and each is called as anonymous and as every
 * role below its rule: anonymous → UNAUTHORIZED, too low a role → FORBIDDEN, and the database is
 * unchanged afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Role } from "~/db/schema";
import { appRouter } from "~/server/api/root";
import type { Meta } from "~/server/api/trpc";
import { makeEnv, type TestEnv } from "../helpers/testEnv";

const RULES: Record<string, Meta["auth"]> = {
  "auth.me": "public",
  "auth.setup": "public",
  "auth.signIn": "public",
  "auth.signOut": "public",
  "users.list": "admin",
  "users.create": "admin",
  "users.setRole": "admin",
  "workers.list": "admin",
  "workers.tokens": "admin",
  "workers.createToken": "admin",
  "workers.revokeToken": "admin",
  "models.list": "viewer",
  "models.get": "viewer",
  "models.upload": "annotator",
  "models.delete": "admin",
  "datasets.list": "viewer",
  "datasets.get": "viewer",
  "datasets.uploadZip": "annotator",
  "datasets.registerFolder": "admin",
  "datasets.delete": "admin",
  "runs.list": "viewer",
  "runs.get": "viewer",
  "runs.start": "annotator",
  "runs.cancel": "annotator",
  "runs.progress": "viewer",
  "circuits.list": "viewer",
  "circuits.get": "viewer",
  "circuits.export": "viewer",
  "circuits.import": "annotator",
  "circuits.delete": "admin",
  "labels.config": "viewer",
  "labels.forCircuit": "viewer",
  "labels.overview": "viewer",
  "labels.get": "viewer",
  "labels.job": "viewer",
  "labels.save": "annotator",
  "labels.revert": "annotator",
  "labels.review": "annotator",
  "labels.start": "annotator",
  "labels.cancel": "annotator",
  // "viewer" + share: also open to a live share link of that circuit (tests/integration/viewerShare.test.ts)
  "circuitGraph.get": "viewer",
  "circuitGraph.hypertree": "viewer",
  "circuitBrowse.search": "viewer",
  "circuitCompare.get": "viewer",
  "circuitCompare.concept": "viewer",
  "circuitCompare.startConcept": "annotator",
  "shareLinks.create": "viewer",
  "shareLinks.list": "viewer",
  "shareLinks.revoke": "viewer",
  "heatmaps.status": "viewer",
  "heatmaps.request": "viewer",
  "patchContext.get": "viewer",
  "patchContext.request": "viewer",
  "evaluations.start": "annotator",
  "evaluations.startImageDebug": "annotator",
  "evaluations.list": "viewer",
  "evaluations.jobs": "viewer",
  "evaluations.get": "viewer",
  "evaluations.cancel": "annotator",
  // "viewer" + share: the viewer's faithfulness figure
  "evaluations.faithfulness": "viewer",
};

const BELOW: Record<Meta["auth"], (Role | "anonymous")[]> = {
  public: [],
  viewer: ["anonymous"],
  annotator: ["anonymous", "viewer"],
  admin: ["anonymous", "viewer", "annotator"],
};

type Procs = Record<string, { _def: { meta?: Meta; type: string } }>;
const procedures = (appRouter._def as unknown as { procedures: Procs }).procedures;

let env: TestEnv;
beforeAll(async () => {
  env = await makeEnv();
});
afterAll(() => env.close());

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

async function call(who: Role | "anonymous", path: string, input: unknown): Promise<unknown> {
  let node: unknown = env.as[who];
  for (const part of path.split(".")) node = (node as Record<string, unknown>)[part];
  const r = await (node as (i: unknown) => Promise<unknown>)(input);
  // a subscription resolves to an async iterable: pull once
  if (r && typeof r === "object" && Symbol.asyncIterator in r)
    await (r as AsyncIterable<unknown>)[Symbol.asyncIterator]().next();
  return r;
}

describe("auth rules", () => {
  it("the table covers every procedure and matches its declared rule", () => {
    expect(Object.keys(procedures).sort()).toStrictEqual(Object.keys(RULES).sort());
    for (const [path, p] of Object.entries(procedures)) expect(p._def.meta?.auth, path).toBe(RULES[path]);
  });

  for (const [path, rule] of Object.entries(RULES)) {
    for (const who of BELOW[rule]) {
      it(`${path} refuses ${who}`, async () => {
        const before = snapshot();
        // inputs are deliberately junk: the role check must come before input validation
        const form = new FormData();
        form.set("name", "x");
        const input = path.endsWith("upload") || path.endsWith("uploadZip") ? form : { id: 1, junk: true };
        const err = await call(who, path, input).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, `${path} as ${who}`).toMatchObject({ code: who === "anonymous" ? "UNAUTHORIZED" : "FORBIDDEN" });
        expect(snapshot()).toBe(before);
      });
    }
  }

  it("a viewer can read", async () => {
    await expect(env.as.viewer.models.list()).resolves.toEqual([]);
    await expect(env.as.viewer.datasets.list()).resolves.toEqual([]);
    await expect(env.as.viewer.runs.list({})).resolves.toEqual([]);
    await expect(env.as.viewer.circuits.list({})).resolves.toEqual([]);
  });
});
