/**
 * tRPC init and the procedure builders. Every procedure is built from exactly one of them, and
 * the role check runs before input parsing, so a caller without the role learns nothing:
 *   publicProcedure    — sign-in, setup, who-am-I
 *   viewerProcedure    — any signed-in user; reads
 *   annotatorProcedure — uploads, runs, imports, labels
 *   adminProcedure     — users, deletions, server folders
 *   sharedReadProcedure — a viewer's read of one circuit that a share-link holder may also make
 */
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError, z } from "zod";
import type { Role } from "~/db/schema";
import { resolveShareRequest, shareMessage } from "~/server/share/links";
import { UploadError } from "~/server/storage/limits";
import type { Context } from "./context";

export interface Meta {
  /** Least role the procedure needs; "public" for none. Read by the auth-rule test. */
  auth: Role | "public";
  /** Also open to the holder of a valid share link, for that link's circuit only (reads). */
  share?: true;
  /**
   * A multipart (FormData) upload: the HTTP route checks the session and role, then streams the
   * body to disk within these limits (`server/api/httpHandler.ts`).
   */
  upload?: { files: number; fileBytes: number; totalBytes: number };
}

/**
 * A failed input check for people: "field: rule; …" (zod's own message is a JSON dump of its
 * issues), naming the field itself, not the request's nesting ("request.params.taus" → "taus").
 */
export function zodIssuesText(error: ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.filter((p, at) => !(at < 2 && (p === "request" || p === "params")));
      return path.length ? `${path.join(".")}: ${i.message}` : i.message;
    })
    .join("; ");
}

/** What a client learns of an unexpected server error (the full error goes to the server log). */
export const INTERNAL_MESSAGE = "the server failed unexpectedly; the details are in its log";

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    errorFormatter({ shape, error }) {
      const zod = error.cause instanceof ZodError ? z.flattenError(error.cause) : null;
      // an unexpected failure's message may name server paths or internals: the server log has it
      const message =
        error.code === "INTERNAL_SERVER_ERROR"
          ? INTERNAL_MESSAGE
          : error.cause instanceof ZodError
            ? zodIssuesText(error.cause)
            : shape.message;
      return { ...shape, message, data: { ...shape.data, zodError: zod, stack: undefined } };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

const RANK: Record<Role, number> = { viewer: 0, annotator: 1, admin: 2 };

export function hasRole(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** Turns storage's UploadError into a BAD_REQUEST with the same message. */
const errors = t.middleware(async ({ next }) => {
  const r = await next();
  if (!r.ok && r.error.cause instanceof UploadError) {
    throw new TRPCError({ code: "BAD_REQUEST", message: r.error.cause.message, cause: r.error.cause });
  }
  return r;
});

function requireRole(needed: Role) {
  return t.middleware(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
    if (!hasRole(ctx.user.role, needed))
      throw new TRPCError({ code: "FORBIDDEN", message: `this needs the ${needed} role; you are ${ctx.user.role}` });
    return next({ ctx: { ...ctx, user: ctx.user } });
  });
}

export const publicProcedure = t.procedure.meta({ auth: "public" }).use(errors);
export const viewerProcedure = t.procedure.meta({ auth: "viewer" }).use(errors).use(requireRole("viewer"));
export const annotatorProcedure = t.procedure.meta({ auth: "annotator" }).use(errors).use(requireRole("annotator"));
export const adminProcedure = t.procedure.meta({ auth: "admin" }).use(errors).use(requireRole("admin"));

/**
 * Reads of one circuit that a share-link holder may also make: a signed-in user passes as for
 * `viewerProcedure`; without a session, the `x-neurflow-share` token must resolve to a live link,
 * and the procedure must call `assertCircuitAllowed` with the circuit it reads. Every other
 * procedure needs a session, so a share-link holder can read nothing else and write nothing.
 */
const viewerOrShare = t.middleware(async ({ ctx, next }) => {
  if (ctx.user) return next({ ctx: { ...ctx, share: null as { circuitId: number; linkId: number } | null } });
  if (ctx.shareToken) {
    // rate-limited per address (failed resolutions) and per link+address (uses): 429 + Retry-After
    const r = await resolveShareRequest(ctx.db, ctx.shareToken, ctx.clientIp);
    if (r.status === "limited") {
      ctx.resHeaders?.set("Retry-After", String(r.retryAfterS));
      throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: r.message });
    }
    if (r.status !== "ok") throw new TRPCError({ code: "UNAUTHORIZED", message: shareMessage(r) });
    return next({
      ctx: {
        ...ctx,
        share: { circuitId: r.link.circuitId, linkId: r.link.id } as { circuitId: number; linkId: number } | null,
      },
    });
  }
  throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
});

export const sharedReadProcedure = t.procedure.meta({ auth: "viewer", share: true }).use(errors).use(viewerOrShare);

export function assertCircuitAllowed(ctx: { share: { circuitId: number } | null }, circuitId: number): void {
  if (ctx.share && ctx.share.circuitId !== circuitId)
    throw new TRPCError({ code: "FORBIDDEN", message: "this share link opens another circuit" });
}
