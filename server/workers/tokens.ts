/**
 * Worker tokens: what a worker machine presents to the platform's internal API
 * (`Authorization: Bearer nfw_…`). An admin creates one (32 random bytes, base64url, behind the
 * `nfw_` prefix so a leaked one is recognisable), sees it once, and can revoke it; the database
 * keeps only its SHA-256 (as with sessions and share links). A token opens the worker routes and
 * nothing else: user procedures and pages read only the session cookie.
 */
import { randomBytes } from "node:crypto";
import { desc, eq, isNull, and } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "~/db/client";
import { users, workerNodes, workerTokens } from "~/db/schema";
import { hashToken } from "~/server/auth/sessions";

export const WORKER_TOKEN_PREFIX = "nfw_";
export const workerTokenSchema = z.string().regex(/^nfw_[A-Za-z0-9_-]{43}$/, "not a worker token");
export const workerTokenNameSchema = z
  .string()
  .trim()
  .min(1, "name the token (the machine it is for)")
  .max(80)
  .regex(/^[\p{L}\p{N} ._:-]+$/u, "letters, digits, spaces and . _ : - only");

export function newWorkerToken(): string {
  return WORKER_TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** Creates a token; returns it (the only time it is seen) with its id. */
export function createWorkerToken(
  db: Db,
  input: { name: string; createdBy: number | null; now?: number },
): { id: number; token: string } {
  const name = workerTokenNameSchema.parse(input.name);
  const token = newWorkerToken();
  const row = db
    .insert(workerTokens)
    .values({ name, tokenHash: hashToken(token), createdBy: input.createdBy, createdAt: input.now ?? Date.now() })
    .returning({ id: workerTokens.id })
    .get();
  return { id: row.id, token };
}

/** Revokes a token: its worker's next call is refused. False when there is no such token. */
export function revokeWorkerToken(db: Db, id: number, now = Date.now()): boolean {
  return db.transaction((tx) => {
    const row = tx.select().from(workerTokens).where(eq(workerTokens.id, id)).get();
    if (!row) return false;
    if (row.revokedAt == null) {
      tx.update(workerTokens).set({ revokedAt: now }).where(eq(workerTokens.id, id)).run();
      tx.update(workerNodes)
        .set({ stoppedAt: now, currentJobId: null })
        .where(and(eq(workerNodes.tokenId, id), isNull(workerNodes.stoppedAt)))
        .run();
    }
    return true;
  });
}

export type WorkerTokenCheck =
  | { status: "ok"; tokenId: number; name: string }
  | { status: "missing" | "malformed" | "unknown" }
  | { status: "revoked"; tokenId: number; name: string };

/** Reads `Authorization: Bearer <token>` and looks the token up by its hash. */
export function checkWorkerToken(db: Db, authorization: string | null, now = Date.now()): WorkerTokenCheck {
  if (!authorization) return { status: "missing" };
  const m = /^Bearer ([^\s]+)$/.exec(authorization.trim());
  if (!m || !workerTokenSchema.safeParse(m[1]).success) return { status: "malformed" };
  const row = db
    .select()
    .from(workerTokens)
    .where(eq(workerTokens.tokenHash, hashToken(m[1]!)))
    .get();
  if (!row) return { status: "unknown" };
  if (row.revokedAt != null) return { status: "revoked", tokenId: row.id, name: row.name };
  // at most one write a second per token
  if (row.lastUsedAt == null || now - row.lastUsedAt > 1000)
    db.update(workerTokens).set({ lastUsedAt: now }).where(eq(workerTokens.id, row.id)).run();
  return { status: "ok", tokenId: row.id, name: row.name };
}

export function workerTokenMessage(check: Exclude<WorkerTokenCheck, { status: "ok" }>): string {
  switch (check.status) {
    case "missing":
      return "a worker token is required (Authorization: Bearer nfw_…); an admin creates one on the Users page";
    case "malformed":
      return "the Authorization header does not hold a worker token (Bearer nfw_ followed by 43 characters)";
    case "unknown":
      return "unknown worker token: it was never issued here (check NEURFLOW_WORKER_TOKEN)";
    case "revoked":
      return `the worker token "${check.name}" was revoked by an admin; this worker may no longer work for the platform`;
  }
}

/** Tokens for the admin's page (never the token itself). */
export function listWorkerTokens(db: Db) {
  return db
    .select({
      id: workerTokens.id,
      name: workerTokens.name,
      createdAt: workerTokens.createdAt,
      revokedAt: workerTokens.revokedAt,
      lastUsedAt: workerTokens.lastUsedAt,
      creator: users.username,
    })
    .from(workerTokens)
    .leftJoin(users, eq(users.id, workerTokens.createdBy))
    .orderBy(desc(workerTokens.createdAt), desc(workerTokens.id))
    .all();
}
