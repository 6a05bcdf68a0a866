/**
 * Share links: an unguessable read-only token (32 random bytes, base64url) that opens one
 * circuit with a view state. The database keeps only the token's SHA-256; a link can expire and be
 * revoked. Resolving a token says why it does not work (unknown, revoked, expired), so the share
 * page can show a clear message.
 */
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "~/db/client";
import { shareLinks } from "~/db/schema";
import { hashToken } from "~/server/auth/sessions";
import { RateLimited, shareGuard } from "~/server/security/rateLimit";
import { viewStateSchema } from "~/lib/circuits/viewState";
import { SHARE_HEADER, type ViewState } from "~/lib/circuits/viewTypes";

export { SHARE_HEADER };
/** Tokens are 43 base64url characters; anything else is refused before hashing. */
export const shareTokenSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "not a share token");

export function newShareToken(): string {
  return randomBytes(32).toString("base64url");
}

export function readShareHeader(headers: Headers): string | null {
  const v = headers.get(SHARE_HEADER);
  return v && shareTokenSchema.safeParse(v).success ? v : null;
}

export interface ShareLinkRow {
  id: number;
  circuitId: number;
  viewState: ViewState;
  expiresAt: number | null;
}

export type ShareResolution =
  | { status: "ok"; link: ShareLinkRow }
  | { status: "unknown" }
  | { status: "revoked"; circuitId: number }
  | { status: "expired"; circuitId: number };

export function resolveShareToken(db: Db, token: string | null | undefined, now = Date.now()): ShareResolution {
  if (!token || !shareTokenSchema.safeParse(token).success) return { status: "unknown" };
  const row = db
    .select()
    .from(shareLinks)
    .where(eq(shareLinks.tokenHash, hashToken(token)))
    .get();
  if (!row) return { status: "unknown" };
  if (row.revokedAt != null) return { status: "revoked", circuitId: row.circuitId };
  if (row.expiresAt != null && row.expiresAt <= now) return { status: "expired", circuitId: row.circuitId };
  const vs = viewStateSchema.safeParse(row.viewState);
  return {
    status: "ok",
    link: {
      id: row.id,
      circuitId: row.circuitId,
      viewState: vs.success ? vs.data : viewStateSchema.parse({}),
      expiresAt: row.expiresAt,
    },
  };
}

/** Refused by a rate limit (`server/security/rateLimit.ts`, ShareGuard): answer 429 with Retry-After. */
export interface ShareLimited {
  status: "limited";
  retryAfterS: number;
  message: string;
}

/**
 * `resolveShareToken` for a request from `ip` (null in-process: not limited): an address blocked for
 * too many failed resolutions is refused before the database is asked; a failure counts towards
 * that block; a valid link's use counts towards its per-link+address limit.
 */
export async function resolveShareRequest(
  db: Db,
  token: string | null | undefined,
  ip: string | null,
  now = Date.now(),
): Promise<ShareResolution | ShareLimited> {
  const guard = shareGuard();
  try {
    await guard.check(ip);
    const r = resolveShareToken(db, token, now);
    if (r.status !== "ok") {
      await guard.failed(ip);
      return r;
    }
    await guard.used(r.link.id, ip);
    return r;
  } catch (e) {
    if (e instanceof RateLimited) return { status: "limited", retryAfterS: e.retryAfterS, message: e.message };
    throw e;
  }
}

export function shareMessage(r: ShareResolution | ShareLimited): string {
  switch (r.status) {
    case "limited":
      return r.message;
    case "ok":
      return "ok";
    case "unknown":
      return "this share link does not exist";
    case "revoked":
      return "this share link was revoked by its owner";
    case "expired":
      return "this share link has expired";
  }
}

export function createShareLink(
  db: Db,
  opts: { circuitId: number; viewState: ViewState; createdBy: number | null; expiresAt: number | null; now?: number },
): { id: number; token: string } {
  const token = newShareToken();
  const id = db
    .insert(shareLinks)
    .values({
      tokenHash: hashToken(token),
      circuitId: opts.circuitId,
      viewState: opts.viewState,
      createdBy: opts.createdBy,
      createdAt: opts.now ?? Date.now(),
      expiresAt: opts.expiresAt,
    })
    .returning({ id: shareLinks.id })
    .get().id;
  return { id, token };
}
