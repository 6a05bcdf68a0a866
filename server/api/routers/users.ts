/** Account administration (admins only). */
import { TRPCError } from "@trpc/server";
import { asc, count, eq } from "drizzle-orm";
import { z } from "zod";
import { ROLES, users } from "~/db/schema";
import { hashPassword } from "~/server/auth/password";
import { adminProcedure, router } from "../trpc";
import { passwordSchema, usernameSchema } from "./auth";

const id = z.number().int().positive();

export const usersRouter = router({
  list: adminProcedure.query(({ ctx }) =>
    ctx.db
      .select({ id: users.id, username: users.username, role: users.role, createdAt: users.createdAt })
      .from(users)
      .orderBy(asc(users.username))
      .all(),
  ),

  create: adminProcedure
    .input(z.object({ username: usernameSchema, password: passwordSchema, role: z.enum(ROLES) }))
    .mutation(async ({ ctx, input }) => {
      const taken = () => new TRPCError({ code: "CONFLICT", message: `the username "${input.username}" is taken` });
      const exists = (db: Pick<typeof ctx.db, "select">) =>
        db.select({ id: users.id }).from(users).where(eq(users.username, input.username)).get();
      if (exists(ctx.db)) throw taken();
      const passwordHash = await hashPassword(input.password);
      // checked again with the insert: another request may have taken the name while this one hashed
      return ctx.db.transaction((tx) => {
        if (exists(tx)) throw taken();
        return tx
          .insert(users)
          .values({ username: input.username, passwordHash, role: input.role, createdAt: Date.now() })
          .returning({ id: users.id, username: users.username, role: users.role })
          .get();
      });
    }),

  setRole: adminProcedure.input(z.object({ userId: id, role: z.enum(ROLES) })).mutation(({ ctx, input }) =>
    ctx.db.transaction((tx) => {
      const u = tx.select().from(users).where(eq(users.id, input.userId)).get();
      if (!u) throw new TRPCError({ code: "NOT_FOUND", message: `no user ${input.userId}` });
      if (u.role === "admin" && input.role !== "admin") {
        const admins = tx.select({ n: count() }).from(users).where(eq(users.role, "admin")).get()?.n ?? 0;
        if (admins <= 1) throw new TRPCError({ code: "BAD_REQUEST", message: "the last admin cannot be demoted" });
      }
      tx.update(users).set({ role: input.role }).where(eq(users.id, input.userId)).run();
      return { id: u.id, username: u.username, role: input.role };
    }),
  ),
});
