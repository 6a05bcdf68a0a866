/**
 * The tRPC HTTP route itself (app/api/trpc): the request-size limit with and without a declared
 * length, a malformed session cookie, and what a client learns of an unexpected server error.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const LIMIT = 4000;
const dir = mkdtempSync(join(tmpdir(), "neurflow-route-"));
let handler: (req: Request) => Promise<Response>;
let cookie = "";

beforeAll(async () => {
  process.env.NEURFLOW_DB = join(dir, "db.sqlite");
  process.env.NEURFLOW_DATA = join(dir, "files");
  process.env.NEURFLOW_MAX_REQUEST_BYTES = String(LIMIT);
  handler = (await import("~/app/api/trpc/[trpc]/route")).POST;
  const r = await handler(
    new Request("http://app/api/trpc/auth.setup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ json: { username: "admin", password: "admin-password" } }),
    }),
  );
  expect(r.status).toBe(200);
  cookie = r.headers.getSetCookie()[0]!.split(";")[0]!;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A dataset-zip upload form of about `bytes` bytes (not a valid zip). */
function uploadForm(bytes: number): FormData {
  const f = new FormData();
  f.set("name", "big");
  f.set("file", new File([new Uint8Array(bytes).fill(7)], "images.zip"));
  return f;
}

/** The form's body as a stream without a length, counting what the server pulls from it. */
function streamed(form: FormData): { body: ReadableStream<Uint8Array>; type: string; pulled: () => number } {
  const encoded = new Response(form);
  const reader = encoded.body!.getReader();
  let pulled = 0;
  let pending = new Uint8Array(0);
  // one small chunk per pull, so the limit falls inside the body
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        if (pending.length === 0) {
          const { done, value } = await reader.read();
          if (done) return c.close();
          pending = value;
        }
        const part = pending.subarray(0, 512);
        pending = pending.subarray(part.length);
        pulled += part.length;
        c.enqueue(part);
      },
    },
    { highWaterMark: 0 },
  );
  return { body, type: encoded.headers.get("content-type")!, pulled: () => pulled };
}

const uploadUrl = "http://app/api/trpc/datasets.uploadZip";
const storedDatasets = () => readdirSync(join(dir, "files", "datasets"), { withFileTypes: true }).length;

describe("request-size limit", () => {
  it("refuses a declared length over the limit before reading", async () => {
    const body = await new Response(uploadForm(2 * LIMIT)).arrayBuffer();
    const type = new Response(uploadForm(1)).headers.get("content-type")!;
    const r = await handler(
      new Request(uploadUrl, {
        method: "POST",
        headers: { cookie, "content-type": type, "content-length": String(body.byteLength) },
        body,
      }),
    );
    expect(r.status).toBe(413);
    expect((await r.json()).error).toMatch(new RegExp(`has ${body.byteLength} bytes; at most ${LIMIT}`));
  });

  it("refuses a body without a length as soon as it passes the limit", async () => {
    const s = streamed(uploadForm(20 * LIMIT));
    const r = await handler(
      new Request(uploadUrl, {
        method: "POST",
        headers: { cookie, "content-type": s.type },
        body: s.body,
        duplex: "half",
      } as RequestInit),
    );
    expect(r.status).toBe(413);
    expect((await r.json()).error).toContain(`more than ${LIMIT} bytes`);
    expect(s.pulled()).toBeLessThan(2 * LIMIT);
  });

  it("hands a body without a length under the limit to the procedure", async () => {
    const s = streamed(uploadForm(LIMIT / 4));
    const r = await handler(
      new Request(uploadUrl, {
        method: "POST",
        headers: { cookie, "content-type": s.type },
        body: s.body,
        duplex: "half",
      } as RequestInit),
    );
    expect(r.status).toBe(400);
    expect(JSON.stringify(await r.json())).toContain("zip");
  });

  it("stores nothing for any of them", () => {
    expect(() => storedDatasets()).toThrow(); // the datasets folder was never created
  });
});

describe("session cookie", () => {
  for (const bad of ["nf_session=%", "nf_session=%E0%A4%A"])
    it(`treats a malformed ${bad} as no session, and sign-in still works`, async () => {
      const me = await handler(new Request("http://app/api/trpc/auth.me", { method: "GET", headers: { cookie: bad } }));
      expect(me.status).toBe(200);
      expect((await me.json()).result.data.json.user).toBeNull();
      const signIn = await handler(
        new Request("http://app/api/trpc/auth.signIn", {
          method: "POST",
          headers: { cookie: bad, "content-type": "application/json" },
          body: JSON.stringify({ json: { username: "admin", password: "admin-password" } }),
        }),
      );
      expect(signIn.status).toBe(200);
      expect(signIn.headers.getSetCookie()[0]).toMatch(/^nf_session=[^;]+;/);
    });
});

describe("unexpected errors", () => {
  it("reach the client without their message or stack; expected errors keep theirs", async () => {
    const { INTERNAL_MESSAGE, publicProcedure, router } = await import("~/server/api/trpc");
    const { TRPCError } = await import("@trpc/server");
    const probe = router({
      broken: publicProcedure.query(() => {
        throw new Error("EEXIST: file already exists, open '/srv/files/tmp/upload-1/model.json'");
      }),
      refused: publicProcedure.query(() => {
        throw new TRPCError({ code: "BAD_REQUEST", message: "the name is taken" });
      }),
      nested: publicProcedure
        .input(
          z.object({
            request: z.object({ params: z.object({ taus: z.array(z.number()).min(1, "give at least one τ") }) }),
          }),
        )
        .query(() => 1),
    });
    const call = (path: string) =>
      fetchRequestHandler({
        endpoint: "/api/trpc",
        req: new Request(`http://app/api/trpc/${path}`),
        router: probe,
        createContext: () => ({}) as never,
        onError: () => {},
      });
    const broken = await (await call("broken")).text();
    expect(broken).toContain(INTERNAL_MESSAGE);
    expect(broken).not.toContain("/srv/files");
    expect(broken).not.toContain("EEXIST");
    expect(await (await call("refused")).text()).toContain("the name is taken");
    const nested = await fetchRequestHandler({
      endpoint: "/api/trpc",
      req: new Request(
        `http://app/api/trpc/nested?input=${encodeURIComponent(JSON.stringify({ json: { request: { params: { taus: [] } } } }))}`,
      ),
      router: probe,
      createContext: () => ({}) as never,
      onError: () => {},
    });
    expect((await nested.json()).error.json.message).toBe("taus: give at least one τ");
  });

  it("a bad input's message names the field and the rule, not a JSON dump", async () => {
    const r = await handler(
      new Request("http://app/api/trpc/auth.setup", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ json: { username: "x", password: "short" } }),
      }),
    );
    expect(r.status).toBe(400);
    const message = (await r.json()).error.json.message as string;
    expect(message).toMatch(/^username: .+; password: .+$/);
    expect(message).not.toContain("{");
  });
});
