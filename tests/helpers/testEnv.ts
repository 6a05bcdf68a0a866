/** A real SQLite file in a temp folder with migrations applied, a queue, and callers per role. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb, type Db } from "~/db/client";
import type { Role } from "~/db/schema";
import { createContext } from "~/server/api/context";
import { createCaller } from "~/server/api/root";
import { SESSION_COOKIE } from "~/server/auth/sessions";
import type { JobQueue } from "~/server/jobs/queue";
import { SqliteJobQueue, type SqliteQueueOptions } from "~/server/jobs/sqliteQueue";

export interface TestEnv {
  dir: string;
  dbPath: string;
  storageRoot: string;
  db: Db;
  queue: JobQueue;
  caller(token?: string | null): { call: ReturnType<typeof createCaller>; resHeaders: Headers };
  /** Callers signed in as each role (admin created by setup). */
  as: Record<Role | "anonymous", ReturnType<typeof createCaller>>;
  tokens: Record<Role, string>;
  close(): void;
}

export function tokenFrom(headers: Headers): string {
  const cookie = headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!cookie) throw new Error("no session cookie was set");
  return cookie.slice(SESSION_COOKIE.length + 1).split(";")[0]!;
}

/** `queue`: options of the SQLite queue; `jobQueue`: another queue on the env's database (BullMQ). */
export async function makeEnv(
  opts: { queue?: SqliteQueueOptions; jobQueue?: (db: Db) => JobQueue } = {},
): Promise<TestEnv> {
  const dir = mkdtempSync(join(tmpdir(), "neurflow-test-"));
  const dbPath = join(dir, "test.db");
  const storageRoot = join(dir, "files");
  const db = openDb(dbPath);
  const queue = opts.jobQueue ? opts.jobQueue(db) : new SqliteJobQueue(db, opts.queue);
  const caller = (token?: string | null) => {
    const resHeaders = new Headers();
    const headers = new Headers(token ? { cookie: `${SESSION_COOKIE}=${token}` } : {});
    return {
      call: createCaller(createContext({ db, queue, storageRoot, headers, resHeaders, pollMs: 20 })),
      resHeaders,
    };
  };
  const setup = caller();
  await setup.call.auth.setup({ username: "admin", password: "admin-password" });
  const tokens = { admin: tokenFrom(setup.resHeaders) } as Record<Role, string>;
  for (const role of ["annotator", "viewer"] as const) {
    await caller(tokens.admin).call.users.create({ username: role, password: `${role}-password`, role });
    const c = caller();
    await c.call.auth.signIn({ username: role, password: `${role}-password` });
    tokens[role] = tokenFrom(c.resHeaders);
  }
  return {
    dir,
    dbPath,
    storageRoot,
    db,
    queue,
    caller,
    tokens,
    as: {
      anonymous: caller().call,
      viewer: caller(tokens.viewer).call,
      annotator: caller(tokens.annotator).call,
      admin: caller(tokens.admin).call,
    },
    close() {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
