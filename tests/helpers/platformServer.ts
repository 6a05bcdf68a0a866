/**
 * The web app's route handlers in their own process on loopback (tests/helpers/routeServer.ts),
 * for remote workers to reach over real HTTP: tRPC, the internal worker API and /api/health.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export interface PlatformServer {
  proc: ChildProcess;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export function startPlatformServer(env: Record<string, string>): Promise<PlatformServer> {
  const proc = spawn(process.execPath, ["--import", "tsx", join("tests", "helpers", "routeServer.ts")], {
    cwd: process.cwd(),
    env: { ...process.env, NODE_ENV: "production", NEURFLOW_TRUST_PROXY: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  return new Promise((resolve, reject) => {
    proc.stdout!.on("data", (d) => {
      out = (out + d).slice(-200_000);
      const m = /listening (\d+)/.exec(out);
      if (m)
        resolve({
          proc,
          url: `http://127.0.0.1:${m[1]}`,
          output: () => out,
          stop: () =>
            new Promise<void>((r) => {
              if (proc.exitCode !== null || proc.signalCode !== null) return r();
              proc.once("exit", () => r());
              proc.kill("SIGTERM");
            }),
        });
    });
    proc.stderr!.on("data", (d) => (out = (out + d).slice(-200_000)));
    proc.once("exit", (code) => reject(new Error(`the platform server exited (${code}): ${out}`)));
  });
}
