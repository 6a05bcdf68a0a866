import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { sessions, users } from "~/db/schema";
import { hashPassword, verifyPassword } from "~/server/auth/password";
import { hashToken } from "~/server/auth/sessions";
import { makeEnv, tokenFrom, type TestEnv } from "../helpers/testEnv";

let env: TestEnv;
beforeAll(async () => {
  env = await makeEnv();
});
afterAll(() => env.close());

describe("accounts", () => {
  it("the first user became admin; setup is refused afterwards", async () => {
    const admin = env.db.select().from(users).where(eq(users.username, "admin")).get()!;
    expect(admin.role).toBe("admin");
    await expect(env.as.anonymous.auth.setup({ username: "mallory", password: "password123" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    expect(env.db.select().from(users).where(eq(users.username, "mallory")).get()).toBeUndefined();
  });

  it("passwords are scrypt hashes with per-user salts", async () => {
    const rows = env.db.select().from(users).all();
    for (const r of rows) expect(r.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$[0-9a-f]{32}\$[0-9a-f]{128}$/);
    expect(new Set(rows.map((r) => r.passwordHash.split("$")[4])).size).toBe(rows.length);
    const h = await hashPassword("correct horse");
    expect(await verifyPassword("correct horse", h)).toBe(true);
    expect(await verifyPassword("correct horsf", h)).toBe(false);
    expect(await verifyPassword("x", "garbage")).toBe(false);
  });

  it("sign-in sets an httpOnly session cookie whose token is stored only hashed", async () => {
    const c = env.caller();
    const u = await c.call.auth.signIn({ username: "viewer", password: "viewer-password" });
    expect(u.role).toBe("viewer");
    const cookie = c.resHeaders.getSetCookie()[0]!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    const token = tokenFrom(c.resHeaders);
    expect(env.db.select().from(sessions).where(eq(sessions.id, token)).get()).toBeUndefined();
    expect(
      env.db
        .select()
        .from(sessions)
        .where(eq(sessions.id, hashToken(token)))
        .get(),
    ).toBeDefined();
    const me = await env.caller(token).call.auth.me();
    expect(me.user?.username).toBe("viewer");
  });

  it("wrong password and unknown user give the same error", async () => {
    const e1 = await env.as.anonymous.auth.signIn({ username: "viewer", password: "nope-nope" }).catch((e) => e);
    const e2 = await env.as.anonymous.auth.signIn({ username: "nobody", password: "nope-nope" }).catch((e) => e);
    expect(e1).toMatchObject({ code: "UNAUTHORIZED", message: "wrong username or password" });
    expect(e2).toMatchObject({ code: "UNAUTHORIZED", message: "wrong username or password" });
  });

  it("sign-out ends the session", async () => {
    const c = env.caller();
    await c.call.auth.signIn({ username: "annotator", password: "annotator-password" });
    const token = tokenFrom(c.resHeaders);
    const out = env.caller(token);
    await out.call.auth.signOut();
    expect(out.resHeaders.getSetCookie()[0]).toMatch(/Max-Age=0/);
    expect((await env.caller(token).call.auth.me()).user).toBeNull();
    await expect(env.caller(token).call.models.list()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("a forged or garbage cookie is anonymous", async () => {
    expect((await env.caller("not-a-token").call.auth.me()).user).toBeNull();
    expect((await env.caller("x".repeat(5000)).call.auth.me()).user).toBeNull();
  });

  it("validates account input", async () => {
    await expect(
      env.as.admin.users.create({ username: "a", password: "password123", role: "viewer" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(
      env.as.admin.users.create({ username: "bad name!", password: "password123", role: "viewer" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(
      env.as.admin.users.create({ username: "shorty", password: "short", role: "viewer" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(
      // @ts-expect-error not a role
      env.as.admin.users.create({ username: "rooty", password: "password123", role: "root" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(
      env.as.admin.users.create({ username: "viewer", password: "password123", role: "viewer" }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("two creates of one username at once: one account, and a CONFLICT for the other", async () => {
    const both = await Promise.allSettled(
      [0, 1].map(() => env.as.admin.users.create({ username: "twin", password: "password123", role: "viewer" })),
    );
    expect(both.map((r) => r.status).sort()).toStrictEqual(["fulfilled", "rejected"]);
    expect((both.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toMatchObject({
      code: "CONFLICT",
    });
    expect(env.db.select().from(users).where(eq(users.username, "twin")).all()).toHaveLength(1);
  });

  it("a malformed escape in the session cookie is anonymous, not an error", async () => {
    const { call } = env.caller("%E0%A4%A");
    expect((await call.auth.me()).user).toBeNull();
  });

  it("roles change at once; the last admin cannot be demoted", async () => {
    const list = await env.as.admin.users.list();
    const admin = list.find((u) => u.username === "admin")!;
    await expect(env.as.admin.users.setRole({ userId: admin.id, role: "viewer" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    const created = await env.as.admin.users.create({ username: "temp", password: "password123", role: "viewer" });
    const c = env.caller();
    await c.call.auth.signIn({ username: "temp", password: "password123" });
    const token = tokenFrom(c.resHeaders);
    await expect(env.caller(token).call.users.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
    await env.as.admin.users.setRole({ userId: created.id, role: "admin" });
    expect((await env.caller(token).call.users.list()).length).toBeGreaterThan(3);
    await expect(env.as.admin.users.setRole({ userId: 99999, role: "viewer" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
