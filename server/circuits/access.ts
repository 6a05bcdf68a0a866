/**
 * Who may read a circuit's images: a signed-in user (any role), or the holder of a valid share
 * link for that circuit and no other. Used by the image route handlers; the tRPC side does the same
 * in `sharedReadProcedure` (server/api/trpc.ts).
 */
import "server-only";
import type { Db } from "~/db/client";
import { readCookie, SESSION_COOKIE, userForToken } from "~/server/auth/sessions";
import { clientAddress } from "~/server/security/clientAddress";
import { resolveShareRequest, shareMessage } from "~/server/share/links";

export type ReadAccess =
  | { ok: true; via: "user" | "share" }
  | { ok: false; status: 401 | 403; message: string }
  | { ok: false; status: 429; message: string; retryAfterS: number };

/** A share token is rate-limited per client address (`resolveShareRequest`): 429 with `retryAfterS`. */
export async function circuitReadAccess(
  db: Db,
  circuitId: number,
  headers: Headers,
  shareToken: string | null,
  now = Date.now(),
): Promise<ReadAccess> {
  if (shareToken != null) {
    const r = await resolveShareRequest(db, shareToken, clientAddress(headers), now);
    if (r.status === "limited") return { ok: false, status: 429, message: r.message, retryAfterS: r.retryAfterS };
    if (r.status !== "ok") return { ok: false, status: 403, message: shareMessage(r) };
    if (r.link.circuitId !== circuitId)
      return { ok: false, status: 403, message: "this share link is for another circuit" };
    return { ok: true, via: "share" };
  }
  const user = userForToken(db, readCookie(headers.get("cookie"), SESSION_COOKIE), now);
  return user ? { ok: true, via: "user" } : { ok: false, status: 401, message: "sign in first" };
}
