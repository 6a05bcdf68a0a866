/**
 * Connects a worker process to the platform over its internal API: says hello (registers the
 * worker, checks the token and that the platform's queue answers) and returns the worker's queue
 * and platform. Throws a clear error when the platform does not answer, refuses the token, or its
 * queue is down, so `npm run worker` can refuse to start.
 */
import { FileCache, workerCacheBytes, workerCacheRoot } from "./fileCache";
import { RemoteJobQueue, WorkerApiClient, WorkerApiError, httpPlatform } from "./http";
import type { JobKind } from "~/db/schema";
import { limits } from "~/server/storage/limits";
import type { WorkerPlatform } from "./port";

export interface RemoteConnection {
  api: WorkerApiClient;
  queue: RemoteJobQueue;
  platform: WorkerPlatform;
  cache: FileCache;
  /** The platform's queue, as it describes it. */
  queueWhere: string;
}

export async function connectRemote(opts: {
  platformUrl: string;
  token: string;
  workerId: string;
  host: string;
  backend: string;
  kinds: readonly JobKind[];
  version?: string;
  cacheRoot?: string;
  /** The cache's size cap in bytes (null: none); NEURFLOW_WORKER_CACHE_BYTES when not given. */
  cacheBytes?: number | null;
  onRefused?: (e: WorkerApiError) => void;
  tries?: number;
}): Promise<RemoteConnection> {
  // a bad size cap refuses to start before the worker registers
  const maxBytes = opts.cacheBytes === undefined ? workerCacheBytes() : opts.cacheBytes;
  const api = new WorkerApiClient({
    url: opts.platformUrl,
    token: opts.token,
    workerId: opts.workerId,
    tries: opts.tries,
  });
  let hello;
  try {
    hello = await api.call("hello", {
      host: opts.host,
      backend: opts.backend.slice(0, 64),
      kinds: [...opts.kinds],
      version: opts.version ?? null,
    });
  } catch (e) {
    if (e instanceof WorkerApiError && (e.code === "revoked" || e.code === "unauthorized"))
      throw new Error(
        `the platform at ${opts.platformUrl} refuses this worker's token: ${e.message.replace(/^hello: /, "")}`,
      );
    throw e;
  }
  // from here on a refused token stops the running worker (before, the refusal is this function's error)
  api.setOnRefused(opts.onRefused);
  if (!hello.queueOk)
    throw new Error(`the platform's queue (${hello.queue}) does not answer: ${hello.queueError ?? "unknown error"}`);
  const cache = new FileCache(
    opts.cacheRoot ?? workerCacheRoot(),
    (ref) => api.file(ref),
    Math.max(limits.modelBytes, limits.imageBytes),
    { maxBytes },
  );
  return {
    api,
    // a new job: the previous job's files may be evicted by the cache's size cap
    queue: new RemoteJobQueue(api, () => cache.beginJob()),
    platform: httpPlatform(api, cache),
    cache,
    queueWhere: hello.queue,
  };
}
