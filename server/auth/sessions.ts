/**
 * Sign-in sessions stored in the database. The browser holds a random 32-byte token in an
 * httpOnly cookie; the database holds only its SHA-256, so a leaked database opens no session.
 */
import { createHash, randomBytes } from "node:crypto";
import { and, eq, gt, lt } from "drizzle-orm";
import type { Db } from "~/db/client";
import { sessions, users, type Role } from "~/db/schema";

export const SESSION_COOKIE = "nf_session";
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

export interface SessionUser {
  id: number;
  username: string;
  role: Role;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function createSession(db: Db, userId: number, now = Date.now()): { token: string; expiresAt: number } {
  const token = randomBytes(32).toString("base64url");
  const expiresAt = now + SESSION_TTL_MS;
  db.delete(sessions).where(lt(sessions.expiresAt, now)).run();
  db.insert(sessions)
    .values({ id: hashToken(token), userId, createdAt: now, expiresAt })
    .run();
  return { token, expiresAt };
}

export function userForToken(db: Db, token: string | null | undefined, now = Date.now()): SessionUser | null {
  if (!token || token.length > 200) return null;
  const row = db
    .select({ id: users.id, username: users.username, role: users.role })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, hashToken(token)), gt(sessions.expiresAt, now)))
    .get();
  return row ?? null;
}

export function deleteSession(db: Db, token: string): void {
  db.delete(sessions)
    .where(eq(sessions.id, hashToken(token)))
    .run();
}

export function sessionCookie(token: string, expiresAt: number): string {
  const secure = process.env.NEURFLOW_SECURE_COOKIES === "1" ? "; Secure" : "";
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Expires=${new Date(expiresAt).toUTCString()}${secure}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
}

/** Reads one cookie from a Cookie header; null when it is absent or not validly escaped. */
export function readCookie(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eqAt = part.indexOf("=");
    if (eqAt < 0) continue;
    if (part.slice(0, eqAt).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eqAt + 1).trim());
    } catch {
      return null; // a malformed escape is no cookie at all, not a failed request
    }
  }
  return null;
}
