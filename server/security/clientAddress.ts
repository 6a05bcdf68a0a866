/**
 * The client's address, as the per-address rate limits see it (server/security/rateLimit.ts).
 *
 * NEURFLOW_TRUST_PROXY (default 0) is the number of reverse proxies in front of the web process
 * whose X-Forwarded-For entries are believed:
 *
 *   0  the address is the TCP peer's (the socket's remote address); X-Forwarded-For is ignored,
 *      whatever the client sent. Next.js passes a client's X-Forwarded-For on unchanged (it fills
 *      the header from the socket only when the client sent none), so without a proxy that header
 *      is the client's to choose.
 *   n  the hops of X-Forwarded-For followed by the socket's address, counted from the end: the
 *      socket is hop 0 (the nearest proxy), the client is hop n (as Express's `trust proxy` = n).
 *      Each of the n proxies must append the address it got the request from (nginx:
 *      `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`), and the web process must be
 *      reachable only through them. A header with fewer hops gives its first one.
 *
 * The socket's address does not reach a route handler or a server component under Next.js: they
 * see request headers only. So the web process stamps it at the HTTP layer: `installPeerStamp`
 * (run by `onServerStart`, which instrumentation.ts calls in Next.js and the test route server
 * calls too) subscribes to Node's `http.server.request.start` diagnostics channel, which fires for
 * every request before any handler sees it, and sets the request header `x-neurflow-peer` to
 * "<secret> <address>", replacing whatever a client sent under that name. The secret is random
 * per process, so a client cannot forge the stamp even for a request that reached the process
 * before the subscriber was installed (while it starts). Such a request, which has an
 * X-Forwarded-For (Next.js always sets one) but no valid stamp, is counted under one shared
 * address, `UNVERIFIED_ADDRESS`: it can block itself and its like, never escape. Headers with
 * neither (in-process callers such as the share page's own tRPC caller) have no address (null)
 * and are not counted.
 */
import { randomBytes } from "node:crypto";
import { subscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";

export const PEER_HEADER = "x-neurflow-peer";
/** The address of a network request that carries no valid stamp (see above). */
export const UNVERIFIED_ADDRESS = "unverified";

const g = globalThis as unknown as { __neurflowPeerSecret?: string; __neurflowPeerStamp?: boolean };

/** Per process; on globalThis, so every bundle of the app in this process shares it. */
function secret(): string {
  g.__neurflowPeerSecret ??= randomBytes(24).toString("base64url");
  return g.__neurflowPeerSecret;
}

/** The number of trusted proxy hops (NEURFLOW_TRUST_PROXY; 0 when unset or not a whole number ≥ 0). */
export function trustedProxyHops(): number {
  const raw = process.env.NEURFLOW_TRUST_PROXY?.trim();
  if (!raw) return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 32)
    throw new Error(`NEURFLOW_TRUST_PROXY "${raw}" must be the number of trusted proxies (0 to 32)`);
  return n;
}

/** `::ffff:127.0.0.1` (an IPv4 client of a dual-stack socket) as `127.0.0.1`; at most 100 characters. */
function normalize(address: string): string {
  const a = address.trim();
  return (/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)?.[1] ?? a).slice(0, 100);
}

/** The stamp's header value for a socket address (what the subscriber writes; tests use it too). */
export function peerStamp(address: string): string {
  return `${secret()} ${normalize(address)}`;
}

function stampedPeer(headers: Headers): string | null {
  const v = headers.get(PEER_HEADER);
  if (!v) return null;
  const space = v.indexOf(" ");
  if (space < 0 || v.slice(0, space) !== secret()) return null;
  return v.slice(space + 1) || null;
}

/** Sets the stamp on every request this process's HTTP servers receive, from now on. Idempotent. */
export function installPeerStamp(): void {
  if (g.__neurflowPeerStamp) return;
  g.__neurflowPeerStamp = true;
  subscribe("http.server.request.start", (message) => {
    const { request } = message as { request: IncomingMessage };
    const address = request.socket?.remoteAddress;
    if (address) request.headers[PEER_HEADER] = peerStamp(address);
    else delete request.headers[PEER_HEADER];
  });
}

let warned = false;

/**
 * The client's address for the per-address limits, by NEURFLOW_TRUST_PROXY (see above); null for
 * an in-process caller (no stamp, no X-Forwarded-For).
 */
export function clientAddress(headers: Headers): string | null {
  const trusted = trustedProxyHops();
  if (trusted > 0) {
    const hops = (headers.get("x-forwarded-for") ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean);
    // the stamped socket address is hop 0, the last X-Forwarded-For entry hop 1, …
    if (hops.length) return normalize(hops[Math.max(0, hops.length - trusted)]!);
  }
  const peer = stampedPeer(headers);
  if (peer) return peer;
  if (headers.has("x-forwarded-for") || headers.has(PEER_HEADER)) {
    if (!warned) {
      warned = true;
      console.warn(
        "a request came without a valid socket-address stamp (it reached the process before onServerStart ran?): counted under one shared address",
      );
    }
    return UNVERIFIED_ADDRESS;
  }
  return null;
}
