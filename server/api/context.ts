/**
 * What every procedure sees: the database, the job queue, the storage root, the signed-in user
 * (from the session cookie) and a place to set response cookies.
 */
import type { Db } from "~/db/client";
import { readCookie, SESSION_COOKIE, userForToken, type SessionUser } from "~/server/auth/sessions";
import type { JobQueue } from "~/server/jobs/queue";
import { clientAddress } from "~/server/security/clientAddress";
import { readShareHeader } from "~/server/share/links";

export interface Context {
  db: Db;
  queue: JobQueue;
  /** Root folder for uploaded files. */
  storageRoot: string;
  user: SessionUser | null;
  sessionToken: string | null;
  /** A share-link token (header `x-neurflow-share`); only `sharedReadProcedure`s look at it. */
  shareToken: string | null;
  /** Response headers (Set-Cookie); null where responses cannot set cookies (server components). */
  resHeaders: Headers | null;
  /** Poll period of subscriptions (ms). */
  pollMs: number;
  /** The client's address (last X-Forwarded-For hop), for rate limits; null in-process. */
  clientIp: string | null;
}

export interface ContextInput {
  db: Db;
  queue: JobQueue;
  storageRoot: string;
  headers: Headers;
  resHeaders: Headers | null;
  pollMs?: number;
}

export function createContext(input: ContextInput): Context {
  const token = readCookie(input.headers.get("cookie"), SESSION_COOKIE);
  return {
    db: input.db,
    queue: input.queue,
    storageRoot: input.storageRoot,
    user: userForToken(input.db, token),
    sessionToken: token,
    shareToken: readShareHeader(input.headers),
    resHeaders: input.resHeaders,
    pollMs: input.pollMs ?? 500,
    clientIp: clientAddress(input.headers),
  };
}
