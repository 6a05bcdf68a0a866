/**
 * Rate limits of the unauthenticated endpoints (sign-in, first-user setup, share links), with
 * `rate-limiter-flexible`:
 *
 *   per account  NEURFLOW_SIGNIN_ACCOUNT_FAILS (10) failed sign-ins within 15 minutes block that
 *                account's sign-in for NEURFLOW_SIGNIN_ACCOUNT_BLOCK_S (300 s); each further block
 *                within a day doubles it (back-off), up to 15 minutes. A successful sign-in clears
 *                the count. The real user waits minutes at worst, never hours.
 *   per IP       NEURFLOW_SIGNIN_IP_FAILS (20) failed sign-ins or setups within 15 minutes, whatever
 *                the account, block that address for 15 minutes.
 *
 * A refused attempt is answered 429 with `Retry-After` (seconds) before the password is checked.
 * The client address is the socket's, or with NEURFLOW_TRUST_PROXY = n trusted proxies the n-th
 * X-Forwarded-For hop from the end (`clientAddress`, server/security/clientAddress.ts). In-process
 * callers have none and skip the per-IP limits.
 *
 * Share links (`ShareGuard`; the share page, tRPC reads with `x-neurflow-share`, the image routes'
 * `?share=`):
 *
 *   per IP       NEURFLOW_SHARE_FAILS (30) failed resolutions (unknown, revoked or expired token)
 *                within NEURFLOW_SHARE_FAIL_WINDOW_S (600 s) block that address's share-link use for
 *                NEURFLOW_SHARE_BLOCK_S (300 s); a blocked address is refused before the database
 *                is asked. Other addresses, with valid links, are not affected.
 *   per link+IP  NEURFLOW_SHARE_REQUESTS (600) uses of one valid link from one address within
 *                NEURFLOW_SHARE_REQUEST_WINDOW_S (60 s); past them, 429 until the window ends, so one
 *                leaked link cannot flood the server with renders.
 *
 * Worker tokens (`WorkerTokenGuard`; the internal worker API, server/workers/api.ts):
 *
 *   per IP       NEURFLOW_WORKER_TOKEN_FAILS (20) calls with a missing, malformed, unknown or revoked
 *                worker token within NEURFLOW_WORKER_TOKEN_FAIL_WINDOW_S (600 s) block that
 *                address's worker calls for NEURFLOW_WORKER_TOKEN_BLOCK_S (900 s); a blocked address
 *                is refused (429, code `rate_limited`) before its token is looked up. Workers with
 *                good tokens on other addresses are not affected.
 *
 * The store: in memory, per web process, by default. Where the scale-out queue's Redis is
 * configured (NEURFLOW_QUEUE=redis://…), the counters live there (`RateLimiterRedis`, keys under
 * NEURFLOW_QUEUE_PREFIX), so every web process counts together and a restart forgets nothing; should
 * Redis not answer, each process falls back to its own in-memory counters (the insurance limiter)
 * rather than refusing sign-ins.
 */
import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { queueConfig } from "~/server/jobs/queueConfig";

export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  /** Seconds over which `points` are counted. */
  duration: number;
}

const store = globalThis as unknown as { __neurflowLimiterRedis?: { url: string; client: Redis } };

/** The process's Redis client for the counters (one connection, made on first use). */
function limiterRedis(url: string): Redis {
  if (store.__neurflowLimiterRedis?.url !== url) {
    // commands wait for the connection, at most a second: while Redis is away a count fails after
    // that and the insurance limiter counts instead
    const client = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 1000, connectTimeout: 2000 });
    client.on("error", () => undefined);
    store.__neurflowLimiterRedis = { url, client };
  }
  return store.__neurflowLimiterRedis.client;
}

/** A limiter on the configured store: Redis with the queue's Redis (memory as insurance), else memory. */
export function createLimiter(
  o: LimiterOptions,
  env: Record<string, string | undefined> = process.env,
): RateLimiterAbstract {
  const config = queueConfig(env);
  if (config.kind === "sqlite") return new RateLimiterMemory(o);
  return new RateLimiterRedis({
    ...o,
    keyPrefix: `${config.prefix ?? "neurflow"}:rl:${o.keyPrefix}`,
    storeClient: limiterRedis(config.url),
    insuranceLimiter: new RateLimiterMemory(o),
  });
}

function num(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

const WINDOW_S = 15 * 60;
const MAX_BLOCK_S = 15 * 60;

/** Refused: wait this many seconds. */
export class RateLimited extends Error {
  override name = "RateLimited";
  constructor(
    readonly retryAfterS: number,
    what = "too many failed attempts",
  ) {
    super(`${what}; try again in ${retryAfterS} s`);
  }
}

const secondsOf = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export class SignInGuard {
  readonly accountFails = num("NEURFLOW_SIGNIN_ACCOUNT_FAILS", 10);
  readonly accountBlockS = num("NEURFLOW_SIGNIN_ACCOUNT_BLOCK_S", 300);
  readonly ipFails = num("NEURFLOW_SIGNIN_IP_FAILS", 20);
  private readonly perAccount = createLimiter({
    keyPrefix: "signin-account",
    points: this.accountFails,
    duration: WINDOW_S,
  });
  private readonly blocks = createLimiter({ keyPrefix: "signin-account-blocks", points: 1000, duration: 24 * 3600 });
  private readonly perIp = createLimiter({ keyPrefix: "signin-ip", points: this.ipFails, duration: WINDOW_S });

  private static async blockedFor(l: RateLimiterAbstract, key: string): Promise<number | null> {
    const r = await l.get(key);
    return r && r.consumedPoints > l.points ? r.msBeforeNext : null;
  }

  /** Throws RateLimited when the address or the account is blocked now. */
  async check(ip: string | null, account: string | null): Promise<void> {
    const waits = await Promise.all([
      ip ? SignInGuard.blockedFor(this.perIp, ip) : null,
      account ? SignInGuard.blockedFor(this.perAccount, account.toLowerCase()) : null,
    ]);
    const ms = Math.max(...waits.map((w) => w ?? 0));
    if (ms > 0) throw new RateLimited(secondsOf(ms));
  }

  /** Counts a failure; blocks the address / the account once they reach their limit. */
  async failed(ip: string | null, account: string | null): Promise<void> {
    if (ip) {
      const r = await consume(this.perIp, ip);
      if (r.remainingPoints === 0) await this.perIp.block(ip, WINDOW_S);
    }
    if (account) {
      const key = account.toLowerCase();
      const r = await consume(this.perAccount, key);
      if (r.remainingPoints === 0) {
        const n = (await consume(this.blocks, key)).consumedPoints;
        await this.perAccount.block(key, Math.min(MAX_BLOCK_S, this.accountBlockS * 2 ** Math.min(10, n - 1)));
      }
    }
  }

  /** A successful sign-in clears the account's count (not its back-off history). */
  async succeeded(account: string): Promise<void> {
    await this.perAccount.delete(account.toLowerCase());
  }
}

export class ShareGuard {
  readonly fails = num("NEURFLOW_SHARE_FAILS", 30);
  readonly failWindowS = num("NEURFLOW_SHARE_FAIL_WINDOW_S", 600);
  readonly blockS = num("NEURFLOW_SHARE_BLOCK_S", 300);
  readonly requests = num("NEURFLOW_SHARE_REQUESTS", 600);
  readonly requestWindowS = num("NEURFLOW_SHARE_REQUEST_WINDOW_S", 60);
  private readonly failsPerIp = createLimiter({
    keyPrefix: "share-fail-ip",
    points: this.fails,
    duration: this.failWindowS,
  });
  private readonly perLink = createLimiter({
    keyPrefix: "share-link-ip",
    points: this.requests,
    duration: this.requestWindowS,
  });

  /** Throws RateLimited when the address is blocked for failed share-link resolutions. */
  async check(ip: string | null): Promise<void> {
    if (!ip) return;
    const r = await this.failsPerIp.get(ip);
    if (r && r.consumedPoints > this.fails)
      throw new RateLimited(
        secondsOf(r.msBeforeNext),
        "too many unknown, revoked or expired share links from your address",
      );
  }

  /** Counts a failed resolution; blocks the address once it reaches the limit. */
  async failed(ip: string | null): Promise<void> {
    if (!ip) return;
    const r = await consume(this.failsPerIp, ip);
    if (r.remainingPoints === 0) await this.failsPerIp.block(ip, this.blockS);
  }

  /** Counts one use of a valid link from an address; throws RateLimited past the limit. */
  async used(linkId: number, ip: string | null): Promise<void> {
    if (!ip) return;
    const r = await consume(this.perLink, `${linkId}|${ip}`);
    if (r.consumedPoints > this.requests)
      throw new RateLimited(
        secondsOf(r.msBeforeNext),
        `this share link was used for more than ${this.requests} requests in ${this.requestWindowS} s from your address`,
      );
  }
}

export class WorkerTokenGuard {
  readonly fails = num("NEURFLOW_WORKER_TOKEN_FAILS", 20);
  readonly failWindowS = num("NEURFLOW_WORKER_TOKEN_FAIL_WINDOW_S", 600);
  readonly blockS = num("NEURFLOW_WORKER_TOKEN_BLOCK_S", 900);
  private readonly failsPerIp = createLimiter({
    keyPrefix: "worker-token-fail-ip",
    points: this.fails,
    duration: this.failWindowS,
  });

  /** Throws RateLimited when the address is blocked for failed worker-token attempts. */
  async check(ip: string | null): Promise<void> {
    if (!ip) return;
    const r = await this.failsPerIp.get(ip);
    if (r && r.consumedPoints > this.fails)
      throw new RateLimited(secondsOf(r.msBeforeNext), "too many calls with a bad worker token from this address");
  }

  /** Counts a refused token; blocks the address once it reaches the limit. */
  async failed(ip: string | null): Promise<void> {
    if (!ip) return;
    const r = await consume(this.failsPerIp, ip);
    if (r.remainingPoints === 0) await this.failsPerIp.block(ip, this.blockS);
  }
}

async function consume(l: RateLimiterAbstract, key: string): Promise<RateLimiterRes> {
  try {
    return await l.consume(key);
  } catch (e) {
    if (e instanceof RateLimiterRes) return e;
    throw e;
  }
}

const g = globalThis as unknown as {
  __neurflowSignInGuard?: SignInGuard;
  __neurflowShareGuard?: ShareGuard;
  __neurflowWorkerTokenGuard?: WorkerTokenGuard;
};
/** The process's guard. */
export function signInGuard(): SignInGuard {
  g.__neurflowSignInGuard ??= new SignInGuard();
  return g.__neurflowSignInGuard;
}

/** The process's share-link guard. */
export function shareGuard(): ShareGuard {
  g.__neurflowShareGuard ??= new ShareGuard();
  return g.__neurflowShareGuard;
}

/** The process's worker-token guard. */
export function workerTokenGuard(): WorkerTokenGuard {
  g.__neurflowWorkerTokenGuard ??= new WorkerTokenGuard();
  return g.__neurflowWorkerTokenGuard;
}
