/** Read-only links to one circuit with a view state; the token is stored only as a hash. */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { circuits } from "./circuits";
import { users } from "./users";

export const shareLinks = sqliteTable(
  "share_links",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** SHA-256 of the URL token, hex. */
    tokenHash: text("token_hash").notNull().unique(),
    circuitId: integer("circuit_id")
      .notNull()
      .references(() => circuits.id, { onDelete: "cascade" }),
    /** Selected node, threshold, zoom, pan (shape owned by the viewer). */
    viewState: text("view_state", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("share_links_circuit_idx").on(t.circuitId)],
);
