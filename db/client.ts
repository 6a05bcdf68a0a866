/**
 * Opens the SQLite database (WAL, foreign keys, busy timeout) and applies the committed
 * drizzle-kit migrations. One connection per process; the worker opens its own.
 */
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as schema from "./schema";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export const MIGRATIONS_DIR = resolve(
  /* turbopackIgnore: true */ process.env.NEURFLOW_MIGRATIONS ?? join(process.cwd(), "db", "migrations"),
);

export function defaultDbPath(): string {
  return resolve(/* turbopackIgnore: true */ process.env.NEURFLOW_DB ?? join(process.cwd(), "data", "neurflow.db"));
}

/** Opens (creating if needed) the database file at `path` and migrates it to the latest schema. */
export function openDb(path: string = defaultDbPath(), opts: { migrate?: boolean } = {}): Db {
  mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = drizzle(sqlite, { schema }) as Db;
  if (opts.migrate !== false) migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return db;
}

const globalForDb = globalThis as unknown as { __neurflowDb?: Db };

/** The process-wide connection (survives Next's dev-mode module reloads). */
export function getDb(): Db {
  globalForDb.__neurflowDb ??= openDb();
  return globalForDb.__neurflowDb;
}
