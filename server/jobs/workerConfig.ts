/**
 * What `npm run worker` serves, read from the environment and checked before anything starts:
 *
 * - local: the application database (NEURFLOW_DB, default ./data/neurflow.db) and the queue on it
 *   or on Redis (NEURFLOW_QUEUE) — a worker on the web server's machine;
 * - remote: NEURFLOW_PLATFORM_URL (the web app's origin) with NEURFLOW_WORKER_TOKEN — a worker on
 *   another machine that reaches the database, the queue and the files only through the platform's
 *   internal API. It takes neither NEURFLOW_DB nor NEURFLOW_QUEUE (the platform's queue serves it).
 *
 * NEURFLOW_WORKER_KINDS (comma-separated) narrows the job kinds a worker takes.
 */
import { JOB_KINDS, type JobKind } from "~/db/schema";
import { workerTokenSchema } from "~/server/workers/tokens";
import { queueConfig, type QueueConfig } from "./queueConfig";

/** Kinds a remote worker can run: all but patch activations and concept matches, which read the database directly. */
export const REMOTE_KINDS: readonly JobKind[] = JOB_KINDS.filter(
  (k) => k !== "patchActivations" && k !== "conceptMatch",
);

export type WorkerConfig =
  | { mode: "local"; queue: QueueConfig; kinds: readonly JobKind[] }
  | { mode: "remote"; platformUrl: string; token: string; kinds: readonly JobKind[] };

export class WorkerConfigError extends Error {
  override name = "WorkerConfigError";
}

function kindsFrom(raw: string | undefined, allowed: readonly JobKind[]): readonly JobKind[] {
  const text = raw?.trim() ?? "";
  if (text === "") return allowed;
  const kinds = [...new Set(text.split(",").map((k) => k.trim()))];
  for (const k of kinds)
    if (!(allowed as readonly string[]).includes(k))
      throw new WorkerConfigError(
        `NEURFLOW_WORKER_KINDS: "${k}" is not a job kind this worker can run (${allowed.join(", ")})`,
      );
  return kinds as JobKind[];
}

export function workerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const platform = env.NEURFLOW_PLATFORM_URL?.trim() ?? "";
  const db = env.NEURFLOW_DB?.trim() ?? "";
  if (platform === "") {
    if ((env.NEURFLOW_WORKER_TOKEN?.trim() ?? "") !== "")
      throw new WorkerConfigError(
        "NEURFLOW_WORKER_TOKEN is set without NEURFLOW_PLATFORM_URL: a remote worker needs the platform's address (https://web:3000); a local worker needs neither",
      );
    try {
      return { mode: "local", queue: queueConfig(env), kinds: kindsFrom(env.NEURFLOW_WORKER_KINDS, JOB_KINDS) };
    } catch (e) {
      throw new WorkerConfigError((e as Error).message);
    }
  }
  if (db !== "")
    throw new WorkerConfigError(
      "both NEURFLOW_DB and NEURFLOW_PLATFORM_URL are set: a worker either opens the database (on the web server's machine) or reaches the platform over HTTP (any other machine), not both",
    );
  if ((env.NEURFLOW_QUEUE?.trim() ?? "") !== "")
    throw new WorkerConfigError(
      "NEURFLOW_QUEUE is set with NEURFLOW_PLATFORM_URL: a remote worker uses the platform's queue through its API and never connects to Redis itself; unset NEURFLOW_QUEUE on this machine",
    );
  let url: URL;
  try {
    url = new URL(platform);
  } catch {
    throw new WorkerConfigError(`NEURFLOW_PLATFORM_URL must be http(s)://HOST[:PORT]; got "${platform}"`);
  }
  if (
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    (url.pathname !== "/" && url.pathname !== "")
  )
    throw new WorkerConfigError(
      `NEURFLOW_PLATFORM_URL must be the web app's origin, http(s)://HOST[:PORT] without a path or credentials; got "${platform}"`,
    );
  const token = env.NEURFLOW_WORKER_TOKEN?.trim() ?? "";
  if (token === "")
    throw new WorkerConfigError(
      "NEURFLOW_WORKER_TOKEN is not set: an admin creates a worker token on the Users page of the platform",
    );
  if (!workerTokenSchema.safeParse(token).success)
    throw new WorkerConfigError("NEURFLOW_WORKER_TOKEN is not a worker token (nfw_ followed by 43 characters)");
  return { mode: "remote", platformUrl: url.origin, token, kinds: kindsFrom(env.NEURFLOW_WORKER_KINDS, REMOTE_KINDS) };
}
