/**
 * The rate limits' store: with the scale-out queue's Redis configured (NEURFLOW_QUEUE=redis://…),
 * every web process counts on the same Redis, so failures seen by one process block the account
 * and the address in another; without it each process counts alone; while Redis is away each
 * process falls back to its own counters instead of refusing or letting everything through.
 * A real Redis (Debian's redis-server) on a free loopback port.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RateLimited, ShareGuard, SignInGuard } from "~/server/security/rateLimit";
import { startRedis, type RedisServer } from "../helpers/redisServer";

let redis: RedisServer;
const saved = { queue: process.env.NEURFLOW_QUEUE, prefix: process.env.NEURFLOW_QUEUE_PREFIX };
let prefixNo = 0;

/** Points the next guards at Redis under a prefix of their own (each test starts from zero). */
function useRedis(): void {
  process.env.NEURFLOW_QUEUE = redis.url;
  process.env.NEURFLOW_QUEUE_PREFIX = `rl-test-${process.pid}-${++prefixNo}`;
}

async function refused(p: Promise<unknown>): Promise<RateLimited | null> {
  try {
    await p;
    return null;
  } catch (e) {
    if (e instanceof RateLimited) return e;
    throw e;
  }
}

beforeAll(async () => {
  redis = await startRedis();
}, 60_000);

afterEach(() => {
  if (saved.queue === undefined) delete process.env.NEURFLOW_QUEUE;
  else process.env.NEURFLOW_QUEUE = saved.queue;
  if (saved.prefix === undefined) delete process.env.NEURFLOW_QUEUE_PREFIX;
  else process.env.NEURFLOW_QUEUE_PREFIX = saved.prefix;
});

afterAll(async () => {
  await redis?.close();
});

describe("rate limits on the queue's Redis", () => {
  it("failures counted by one web process block the account and the address in another", async () => {
    useRedis();
    const a = new SignInGuard();
    const b = new SignInGuard();
    for (let i = 0; i < a.accountFails; i++) await a.failed(`10.0.0.${i}`, "Alice");
    const blocked = await refused(b.check("10.9.9.9", "alice"));
    expect(blocked).not.toBeNull();
    expect(blocked!.retryAfterS).toBeGreaterThan(0);
    expect(blocked!.retryAfterS).toBeLessThanOrEqual(b.accountBlockS);
    // another account is not affected
    expect(await refused(b.check("10.9.9.9", "bob"))).toBeNull();

    for (let i = 0; i < a.ipFails; i++) await a.failed("192.0.2.7", `user${i}`);
    expect(await refused(b.check("192.0.2.7", "carol"))).not.toBeNull();
    expect(await refused(b.check("192.0.2.8", "carol"))).toBeNull();
  });

  it("a share-link address blocked by one process is blocked in another", async () => {
    useRedis();
    const a = new ShareGuard();
    const b = new ShareGuard();
    for (let i = 0; i < a.fails; i++) await a.failed("198.51.100.4");
    expect(await refused(b.check("198.51.100.4"))).not.toBeNull();
    expect(await refused(b.check("198.51.100.5"))).toBeNull();
  });

  it("without the queue's Redis each process counts alone (in memory)", async () => {
    delete process.env.NEURFLOW_QUEUE;
    const a = new SignInGuard();
    const b = new SignInGuard();
    for (let i = 0; i < a.accountFails; i++) await a.failed(null, "dave");
    expect(await refused(a.check(null, "dave"))).not.toBeNull();
    expect(await refused(b.check(null, "dave"))).toBeNull();
  });

  it("while Redis is away a process counts on its own and still blocks", async () => {
    useRedis();
    const a = new SignInGuard();
    await a.failed(null, "erin");
    await redis.stop("SIGKILL");
    try {
      for (let i = 0; i < a.accountFails; i++) await a.failed(null, "frank");
      expect(await refused(a.check(null, "frank"))).not.toBeNull();
      expect(await refused(a.check(null, "grace"))).toBeNull();
    } finally {
      await redis.start();
    }
  });
});
