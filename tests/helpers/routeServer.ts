/**
 * A real HTTP server on loopback around the app's route handlers — tRPC (`/api/trpc/…`), the
 * internal worker API (`/api/internal/worker/…`) and `/api/health` — for tests that need a
 * separate server process (its memory measured, killed mid-upload, remote workers): run with
 * `node --import tsx tests/helpers/routeServer.ts`; NEURFLOW_DB / NEURFLOW_DATA as for the app.
 * Requests become fetch `Request`s as Next.js makes them: the body streams from the socket as the
 * handler reads it, and X-Forwarded-For is the socket's address unless the client sent one.
 * It runs the server-start hook first (as instrumentation.ts does in Next; it also stamps each
 * request with its socket's address, `x-neurflow-peer`), then prints `listening <port>` on stdout.
 */
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";

// Next resolves `server-only` to its empty module on the server (the react-server condition); do
// the same here, where the route's server-only modules run outside Next
const require = createRequire(import.meta.url);
const serverOnly = require.resolve("server-only");
require.cache[serverOnly] = { id: serverOnly, filename: serverOnly, loaded: true, exports: {} } as NodeJS.Module;

const { onServerStart } = await import("~/server/startup");
await onServerStart();
const route = await import("~/app/api/trpc/[trpc]/route");
const workerRoute = await import("~/app/api/internal/worker/[...path]/route");
const healthRoute = await import("~/app/api/health/route");
const WORKER_PREFIX = "/api/internal/worker/";

const server = createServer(async (req, res) => {
  try {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers))
      if (v != null) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    if (!headers.has("x-forwarded-for") && req.socket.remoteAddress)
      headers.set("x-forwarded-for", req.socket.remoteAddress);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: req.method,
      headers,
      body: hasBody ? (Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>) : undefined,
      duplex: "half",
    } as RequestInit);
    const pathname = new URL(request.url).pathname;
    let r: Response;
    if (pathname.startsWith(WORKER_PREFIX)) {
      // as Next hands a catch-all's segments: split on "/", each percent-decoded
      const path = pathname.slice(WORKER_PREFIX.length).split("/").map(decodeURIComponent);
      r = await (req.method === "POST" ? workerRoute.POST : workerRoute.GET)(request, {
        params: Promise.resolve({ path }),
      });
    } else if (pathname === "/api/health") r = await healthRoute.GET();
    else r = await (req.method === "POST" ? route.POST : route.GET)(request);
    const out: Record<string, string | string[]> = {};
    r.headers.forEach((v, k) => {
      if (k !== "set-cookie") out[k] = v;
    });
    if (r.headers.getSetCookie().length) out["set-cookie"] = r.headers.getSetCookie();
    res.writeHead(r.status, out);
    if (r.body) for await (const chunk of r.body as unknown as WebReadableStream<Uint8Array>) res.write(chunk);
    res.end();
  } catch (e) {
    console.error(e);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
});
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  console.log(`listening ${typeof a === "object" && a ? a.port : 0}`);
});
