/**
 * Worker machines that reach the platform through its internal API (server/workers/): the tokens
 * an admin creates for them (stored only as a SHA-256, like share links) and the workers that
 * registered with one (id, host, backend, current job, last heartbeat), for the admin's page.
 */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users";

export const workerTokens = sqliteTable("worker_tokens", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  /** What the admin called it ("gpu-box-1"). */
  name: text("name").notNull(),
  /** SHA-256 of the token, hex; the token itself is shown once, at creation. */
  tokenHash: text("token_hash").notNull().unique(),
  createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: integer("created_at").notNull(),
  revokedAt: integer("revoked_at"),
  lastUsedAt: integer("last_used_at"),
});

export const workerNodes = sqliteTable(
  "worker_nodes",
  {
    /** The worker's own id (`host:pid:random`), as it names itself in the queue's lease. */
    id: text("id").primaryKey(),
    tokenId: integer("token_id")
      .notNull()
      .references(() => workerTokens.id, { onDelete: "cascade" }),
    host: text("host").notNull(),
    /** The engine backend it runs (webgpu, tensorflow, wasm, …), as it reported it. */
    backend: text("backend").notNull(),
    /** Job kinds it runs. */
    kinds: text("kinds", { mode: "json" }).$type<string[]>().notNull(),
    version: text("version"),
    startedAt: integer("started_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    currentJobId: integer("current_job_id"),
    /** Set when it said goodbye (SIGTERM) or its token was revoked. */
    stoppedAt: integer("stopped_at"),
  },
  (t) => [index("worker_nodes_seen_idx").on(t.lastSeenAt)],
);
