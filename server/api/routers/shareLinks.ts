/**
 * Share links of a circuit: create (any signed-in user; the token is shown once), list, revoke
 * (its creator or an admin). Opening a link needs no procedure: the share page resolves the token.
 */
import { TRPCError } from "@trpc/server";
import { and, desc, eq } from "drizzle-orm";
import { z } from "zod";
import { circuits, shareLinks, users } from "~/db/schema";
import { viewStateSchema } from "~/lib/circuits/viewState";
import { absoluteUrl } from "~/server/security/origin";
import { createShareLink } from "~/server/share/links";
import { hasRole, router, viewerProcedure } from "../trpc";

const id = z.number().int().positive();
const DAY = 24 * 3600 * 1000;

export const shareLinksRouter = router({
  create: viewerProcedure
    .input(
      z.object({
        circuitId: id,
        viewState: viewStateSchema,
        expiresInDays: z.number().int().min(1).max(365).nullable().default(30),
      }),
    )
    .mutation(({ ctx, input }) => {
      const c = ctx.db.select({ id: circuits.id }).from(circuits).where(eq(circuits.id, input.circuitId)).get();
      if (!c) throw new TRPCError({ code: "NOT_FOUND", message: `no circuit ${input.circuitId}` });
      const now = Date.now();
      const expiresAt = input.expiresInDays == null ? null : now + input.expiresInDays * DAY;
      const { id: linkId, token } = createShareLink(ctx.db, {
        circuitId: c.id,
        viewState: input.viewState,
        createdBy: ctx.user.id,
        expiresAt,
        now,
      });
      // the absolute link is built on the configured public origin (NEURFLOW_PUBLIC_URL), never on Host
      return { id: linkId, token, path: `/s/${token}`, url: absoluteUrl(`/s/${token}`), expiresAt };
    }),

  list: viewerProcedure.input(z.object({ circuitId: id })).query(({ ctx, input }) => {
    const now = Date.now();
    return ctx.db
      .select({
        id: shareLinks.id,
        createdAt: shareLinks.createdAt,
        expiresAt: shareLinks.expiresAt,
        revokedAt: shareLinks.revokedAt,
        viewState: shareLinks.viewState,
        createdBy: shareLinks.createdBy,
        creator: users.username,
      })
      .from(shareLinks)
      .leftJoin(users, eq(users.id, shareLinks.createdBy))
      .where(eq(shareLinks.circuitId, input.circuitId))
      .orderBy(desc(shareLinks.createdAt), desc(shareLinks.id))
      .all()
      .map((l) => ({
        ...l,
        status:
          l.revokedAt != null
            ? ("revoked" as const)
            : l.expiresAt != null && l.expiresAt <= now
              ? ("expired" as const)
              : ("active" as const),
        canRevoke: l.revokedAt == null && (l.createdBy === ctx.user.id || hasRole(ctx.user.role, "admin")),
      }));
  }),

  revoke: viewerProcedure.input(z.object({ id })).mutation(({ ctx, input }) => {
    const l = ctx.db.select().from(shareLinks).where(eq(shareLinks.id, input.id)).get();
    if (!l) throw new TRPCError({ code: "NOT_FOUND", message: `no share link ${input.id}` });
    if (l.createdBy !== ctx.user.id && !hasRole(ctx.user.role, "admin"))
      throw new TRPCError({ code: "FORBIDDEN", message: "only the link's creator or an admin can revoke it" });
    if (l.revokedAt == null)
      ctx.db
        .update(shareLinks)
        .set({ revokedAt: Date.now() })
        .where(and(eq(shareLinks.id, l.id)))
        .run();
    return { ok: true };
  }),
});
