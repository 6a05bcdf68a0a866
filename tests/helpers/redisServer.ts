/**
 * A real Redis for the queue tests: Debian's `redis-server` (REDIS_SERVER overrides the path) on a
 * free loopback port, its files in a temp folder, stopped and removed by `close()`. `stop()` and
 * `start()` restart it on the same port and folder, so what it persisted comes back.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** Starts it (again) on the same port and folder; resolves when it accepts connections. */
  start(): Promise<void>;
  /** SIGTERM (Redis flushes its append-only file and exits) or SIGKILL (nothing more is written). */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  close(): Promise<void>;
  output(): string;
}

export interface RedisServerOptions {
  /** `appendonly yes` with `appendfsync always` (default true); false: no persistence at all. */
  appendOnly?: boolean;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startRedis(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "neurflow-redis-"));
  const port = await freePort();
  const bin = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";
  const persistence =
    opts.appendOnly === false
      ? ["--appendonly", "no", "--save", ""]
      : ["--appendonly", "yes", "--appendfsync", "always", "--save", ""];
  let child: ChildProcess | null = null;
  let log = "";
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(
        bin,
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--dir",
          dir,
          "--protected-mode",
          "yes",
          "--maxmemory-policy",
          "noeviction",
          ...persistence,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      child = c;
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${log}`)), 10_000);
      const onData = (d: Buffer) => {
        log += d.toString();
        if (log.length > 20_000) log = log.slice(-20_000);
        if (/Ready to accept connections/.test(log)) {
          clearTimeout(timer);
          c.stdout!.off("data", onData);
          c.stdout!.on("data", (x: Buffer) => (log = (log + x.toString()).slice(-20_000)));
          resolve();
        }
      };
      c.stdout!.on("data", onData);
      c.stderr!.on("data", (d: Buffer) => (log += d.toString()));
      c.once("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`could not start ${bin}: ${e.message}`));
      });
      c.once("exit", (code) => {
        if (!/Ready to accept connections/.test(log)) {
          clearTimeout(timer);
          reject(new Error(`redis-server exited (${code}) before it was ready:\n${log}`));
        }
      });
    });
  const stop = (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") =>
    new Promise<void>((resolve) => {
      const c = child as ChildProcess | null;
      child = null;
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once("exit", () => resolve());
      c.kill(signal);
    });
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    start,
    stop,
    async close() {
      await stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => log,
  };
}
