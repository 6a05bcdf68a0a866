/**
 * The worker's file cache: model and dataset files fetched from the platform once, kept on the
 * worker's disk by their SHA-256 (`<root>/blobs/<sha256>`), checked while they stream in (size and
 * checksum; a file that does not match is thrown away, never used). A job's files are then laid
 * out as the engine reads them — a model folder with manifest.json beside its model file, a folder
 * of class images — as hard links to the blobs (`<root>/folders/<listing hash>/`), built once per
 * listing. Root: NEURFLOW_WORKER_CACHE (default ~/.cache/neurflow-worker).
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { copyFile, link, mkdir, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { FileRef } from "~/server/workers/protocol";

export function workerCacheRoot(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.NEURFLOW_WORKER_CACHE?.trim() || join(homedir(), ".cache", "neurflow-worker"));
}

export interface CacheStats {
  /** Files fetched from the platform. */
  fetched: number;
  fetchedBytes: number;
  /** Files found in the cache. */
  reused: number;
}

/** Opens the body of `ref` on the platform (a streamed HTTP response). */
export type Fetcher = (ref: FileRef) => Promise<WebReadableStream<Uint8Array>>;

async function sha256OfFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export class FileCache {
  readonly stats: CacheStats = { fetched: 0, fetchedBytes: 0, reused: 0 };
  private readonly inflight = new Map<string, Promise<string>>();
  /** Blobs whose checksum this process has verified (a reused blob is checked once per process). */
  private readonly verified = new Set<string>();

  constructor(
    readonly root: string,
    private readonly fetcher: Fetcher,
    /** Refuses a file larger than this whatever its listing says. */
    private readonly maxFileBytes: number,
  ) {}

  /** The verified blob of `ref` on disk, fetched when it is not there yet. */
  blob(ref: FileRef): Promise<string> {
    let p = this.inflight.get(ref.sha256);
    if (!p) {
      p = this.ensure(ref).finally(() => this.inflight.delete(ref.sha256));
      this.inflight.set(ref.sha256, p);
    }
    return p;
  }

  private async ensure(ref: FileRef): Promise<string> {
    if (ref.size > this.maxFileBytes)
      throw new Error(`${ref.name} has ${ref.size} bytes; this worker takes files of at most ${this.maxFileBytes}`);
    const path = join(this.root, "blobs", ref.sha256);
    if (existsSync(path)) {
      const ok =
        (await stat(path)).size === ref.size &&
        (this.verified.has(ref.sha256) || (await sha256OfFile(path)) === ref.sha256);
      if (ok) {
        this.verified.add(ref.sha256);
        this.stats.reused++;
        return path;
      }
      await rm(path, { force: true }); // damaged on disk: fetched again
    }
    await mkdir(join(this.root, "blobs"), { recursive: true });
    const tmp = join(this.root, "blobs", `.${ref.sha256}.${randomUUID()}.part`);
    const hash = createHash("sha256");
    let bytes = 0;
    const limit = Math.min(ref.size, this.maxFileBytes);
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > limit)
          return done(new Error(`${ref.name}: the platform sent more than the ${ref.size} bytes it listed`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      const body = await this.fetcher(ref);
      await pipeline(Readable.fromWeb(body), count, createWriteStream(tmp, { flags: "wx" }));
      if (bytes !== ref.size) throw new Error(`${ref.name}: ${bytes} bytes arrived, the platform listed ${ref.size}`);
      const digest = hash.digest("hex");
      if (digest !== ref.sha256)
        throw new Error(
          `${ref.name}: checksum ${digest.slice(0, 12)}… does not match the listed ${ref.sha256.slice(0, 12)}…`,
        );
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    this.verified.add(ref.sha256);
    this.stats.fetched++;
    this.stats.fetchedBytes += bytes;
    return path;
  }

  /**
   * A folder holding `refs` under their names (hard links to the blobs; copies where the file
   * system refuses links), the same folder for the same listing. Fetches at most `parallel` at once.
   */
  async folder(refs: readonly FileRef[], parallel = 8): Promise<string> {
    const key = createHash("sha256")
      .update(JSON.stringify(refs.map((r) => [r.name, r.sha256]).sort()))
      .digest("hex")
      .slice(0, 32);
    const blobs: string[] = new Array(refs.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(parallel, refs.length)) }, async () => {
        while (next < refs.length) {
          const i = next++;
          blobs[i] = await this.blob(refs[i]!);
        }
      }),
    );
    const dir = join(this.root, "folders", key);
    if (existsSync(dir)) return dir;
    const tmp = join(this.root, "folders", `.${key}.${randomUUID()}`);
    await mkdir(tmp, { recursive: true });
    try {
      for (let i = 0; i < refs.length; i++) {
        const to = join(tmp, refs[i]!.name);
        await link(blobs[i]!, to).catch(() => copyFile(blobs[i]!, to));
      }
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (existsSync(dir)) return dir; // another worker on this machine laid it out first
      throw e;
    }
    return dir;
  }
}
