/**
 * Worker processes running the fake engine (fakeWorkerMain.ts) for the queue tests, and a poll for
 * a condition; `children` collects them so a test can kill what is left.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

/**
 * A fake-engine worker with `env` on top of this process's environment (less the `unset` names);
 * its stderr goes to ours; its stdout is kept in `outputOf(child)`.
 */
export function spawnFakeWorker(
  env: Record<string, string>,
  children: ChildProcess[],
  unset: string[] = [],
): ChildProcess {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of unset) delete merged[name];
  const child = spawn(process.execPath, ["--import", "tsx", join("tests", "helpers", "fakeWorkerMain.ts")], {
    cwd: process.cwd(),
    env: merged,
    stdio: ["ignore", "pipe", "pipe"],
  });
  outputs.set(child, "");
  child.stdout!.on("data", (d: Buffer) => outputs.set(child, (outputs.get(child)! + d.toString()).slice(-200_000)));
  child.stderr!.on("data", (d) => process.stderr.write(d));
  children.push(child);
  return child;
}

const outputs = new WeakMap<ChildProcess, string>();
/** What a worker spawned here printed on stdout (its last 200 kB). */
export function outputOf(child: ChildProcess): string {
  return outputs.get(child) ?? "";
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
