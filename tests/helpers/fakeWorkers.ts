/**
 * Worker processes running the fake engine (fakeWorkerMain.ts) for the queue tests, and a poll for
 * a condition; `children` collects them so a test can kill what is left.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

/** A fake-engine worker with `env` on top of this process's environment; its stderr goes to ours. */
export function spawnFakeWorker(env: Record<string, string>, children: ChildProcess[]): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join("tests", "helpers", "fakeWorkerMain.ts")], {
    cwd: process.cwd(),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", () => {});
  child.stderr!.on("data", (d) => process.stderr.write(d));
  children.push(child);
  return child;
}

/** Polls `f` every 50 ms until it gives a value; throws after `ms`. */
export async function waitFor<T>(what: string, f: () => T | undefined | null | false, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
