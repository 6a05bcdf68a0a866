/** Sign-in, sign-out, first-user setup, who am I. */
import { TRPCError } from "@trpc/server";
import { count, eq } from "drizzle-orm";
import { z } from "zod";
import { users } from "~/db/schema";
import { dummyHash, hashPassword, verifyPassword } from "~/server/auth/password";
import { clearedSessionCookie, createSession, deleteSession, sessionCookie } from "~/server/auth/sessions";
import { RateLimited, signInGuard } from "~/server/security/rateLimit";
import type { Context } from "../context";
import { publicProcedure, router } from "../trpc";

export const usernameSchema = z
  .string()
  .trim()
  .min(3, "a username has at least 3 characters")
  .max(40, "a username has at most 40 characters")
  .regex(/^[A-Za-z0-9_.-]+$/, "a username uses letters, digits, _ . - only");
export const passwordSchema = z
  .string()
  .min(8, "a password has at least 8 characters")
  .max(200, "a password has at most 200 characters");
const credentials = z.object({ username: usernameSchema, password: passwordSchema });

function startSession(ctx: Context, userId: number): void {
  const { token, expiresAt } = createSession(ctx.db, userId);
  ctx.resHeaders?.append("Set-Cookie", sessionCookie(token, expiresAt));
}

/** Runs a rate-limit step; a refusal becomes 429 with Retry-After. */
async function limited(ctx: Context, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (e) {
    if (!(e instanceof RateLimited)) throw e;
    ctx.resHeaders?.set("Retry-After", String(e.retryAfterS));
    throw new TRPCError({
      code: "TOO_MANY_REQUESTS",
      message: `${e.message} (failed sign-ins are limited per account and per address)`,
    });
  }
}

export const authRouter = router({
  me: publicProcedure.query(({ ctx }) => {
    const none = (ctx.db.select({ n: count() }).from(users).get()?.n ?? 0) === 0;
    return { user: ctx.user, needsSetup: none };
  }),

  /** Creates the first account, which becomes admin. Refused once any user exists. */
  setup: publicProcedure.input(credentials).mutation(async ({ ctx, input }) => {
    const guard = signInGuard();
    await limited(ctx, () => guard.check(ctx.clientIp, null));
    if ((ctx.db.select({ n: count() }).from(users).get()?.n ?? 0) > 0) {
      await guard.failed(ctx.clientIp, null);
      throw new TRPCError({
        code: "FORBIDDEN",
        message: "setup is done: an admin already exists; ask them for an account",
      });
    }
    const hash = await hashPassword(input.password);
    const user = ctx.db.transaction((tx) => {
      if ((tx.select({ n: count() }).from(users).get()?.n ?? 0) > 0) return null;
      return tx
        .insert(users)
        .values({ username: input.username, passwordHash: hash, role: "admin", createdAt: Date.now() })
        .returning({ id: users.id, username: users.username, role: users.role })
        .get();
    });
    if (!user)
      throw new TRPCError({
        code: "FORBIDDEN",
        message: "setup is done: an admin already exists; ask them for an account",
      });
    startSession(ctx, user.id);
    return user;
  }),

  signIn: publicProcedure
    .input(z.object({ username: z.string().trim().min(1).max(40), password: z.string().min(1).max(200) }))
    .mutation(async ({ ctx, input }) => {
      const guard = signInGuard();
      await limited(ctx, () => guard.check(ctx.clientIp, input.username));
      const user = ctx.db.select().from(users).where(eq(users.username, input.username)).get();
      // verify against a dummy hash for unknown names, so timing does not reveal which names exist
      const ok = await verifyPassword(input.password, user?.passwordHash ?? (await dummyHash()));
      if (!user || !ok) {
        await guard.failed(ctx.clientIp, input.username);
        throw new TRPCError({ code: "UNAUTHORIZED", message: "wrong username or password" });
      }
      await guard.succeeded(input.username);
      startSession(ctx, user.id);
      return { id: user.id, username: user.username, role: user.role };
    }),

  signOut: publicProcedure.mutation(({ ctx }) => {
    if (ctx.sessionToken) deleteSession(ctx.db, ctx.sessionToken);
    ctx.resHeaders?.append("Set-Cookie", clearedSessionCookie());
    return { ok: true };
  }),
});
