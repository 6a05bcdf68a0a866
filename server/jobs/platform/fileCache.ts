/**
 * The worker's file cache: model and dataset files fetched from the platform once, kept on the
 * worker's disk by their SHA-256 (`<root>/blobs/<sha256>`), checked while they stream in (size and
 * checksum; a file that does not match is thrown away, never used). A job's files are then laid
 * out as the engine reads them — a model folder with manifest.json beside its model file, a folder
 * of class images — as hard links to the blobs (`<root>/folders/<listing hash>/`), built once per
 * listing. Root: NEURFLOW_WORKER_CACHE (default ~/.cache/neurflow-worker).
 *
 * Size cap (NEURFLOW_WORKER_CACHE_BYTES, unset: none): after a fetch, while the blobs take more
 * than the cap, the least recently used blob is removed together with every folder that links it
 * (a folder is laid out again from its blobs when a later job needs it). A blob's last use is its
 * mtime, set on every fetch and every reuse. Never removed: the files of the job this worker holds
 * now (everything handed out since its claim, `beginJob`), and files used in the last
 * `graceMs` (five minutes; another worker sharing the folder may be about to read them). When
 * nothing else is left to remove the cap is exceeded until that job ends.
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { copyFile, link, mkdir, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { FileRef } from "~/server/workers/protocol";

export function workerCacheRoot(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.NEURFLOW_WORKER_CACHE?.trim() || join(homedir(), ".cache", "neurflow-worker"));
}

/** NEURFLOW_WORKER_CACHE_BYTES: bytes, or a number with K, M, G or T (powers of 1024); unset or empty: no cap. */
export function workerCacheBytes(env: Record<string, string | undefined> = process.env): number | null {
  const raw = env.NEURFLOW_WORKER_CACHE_BYTES?.trim() ?? "";
  if (raw === "") return null;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(raw);
  const n = m ? Number(m[1]) * 1024 ** " KMGT".indexOf((m[2] || " ").toUpperCase()) : Number.NaN;
  if (!Number.isFinite(n) || n < 1)
    throw new Error(`NEURFLOW_WORKER_CACHE_BYTES must be a size such as 20G or 5000000000; got "${raw}"`);
  return Math.floor(n);
}

export interface CacheStats {
  /** Files fetched from the platform. */
  fetched: number;
  fetchedBytes: number;
  /** Files found in the cache. */
  reused: number;
  /** Blobs removed by the size cap, and their bytes. */
  evicted: number;
  evictedBytes: number;
}

/** Opens the body of `ref` on the platform (a streamed HTTP response). */
export type Fetcher = (ref: FileRef) => Promise<WebReadableStream<Uint8Array>>;

async function sha256OfFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export class FileCache {
  readonly stats: CacheStats = { fetched: 0, fetchedBytes: 0, reused: 0, evicted: 0, evictedBytes: 0 };
  /** Blobs handed out since the current job was claimed: never evicted. */
  private readonly inUse = new Set<string>();
  private evicting: Promise<void> = Promise.resolve();
  private readonly inflight = new Map<string, Promise<string>>();
  /** Blobs whose checksum this process has verified (a reused blob is checked once per process). */
  private readonly verified = new Set<string>();

  constructor(
    readonly root: string,
    private readonly fetcher: Fetcher,
    /** Refuses a file larger than this whatever its listing says. */
    private readonly maxFileBytes: number,
    private readonly opts: { maxBytes?: number | null; graceMs?: number } = {},
  ) {}

  /** The size cap in bytes, or null. */
  get maxBytes(): number | null {
    return this.opts.maxBytes ?? null;
  }

  /** A new job was claimed: the previous job's files may be evicted from now on. */
  beginJob(): void {
    this.inUse.clear();
  }

  /** The verified blob of `ref` on disk, fetched when it is not there yet. */
  blob(ref: FileRef): Promise<string> {
    this.inUse.add(ref.sha256);
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
        await this.touch(path);
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
    if (this.opts.maxBytes != null) {
      const run = this.evicting.then(() => this.evict(this.opts.maxBytes!));
      this.evicting = run.catch(() => {});
      await run;
    }
    return path;
  }

  /** Marks a blob used now (its mtime: the LRU clock). */
  private async touch(path: string): Promise<void> {
    const now = new Date();
    await utimes(path, now, now).catch(() => {});
  }

  /** Removes least recently used blobs (and the folders linking them) until the blobs fit in `maxBytes`. */
  async evict(maxBytes: number): Promise<void> {
    const blobsDir = join(this.root, "blobs");
    const blobs: { sha: string; path: string; size: number; used: number; ino: number }[] = [];
    for (const name of await readdir(blobsDir).catch(() => [] as string[])) {
      if (name.startsWith(".")) continue;
      const st = await stat(join(blobsDir, name)).catch(() => null);
      if (st?.isFile())
        blobs.push({ sha: name, path: join(blobsDir, name), size: st.size, used: st.mtimeMs, ino: st.ino });
    }
    let total = blobs.reduce((a, b) => a + b.size, 0);
    if (total <= maxBytes) return;
    const recent = Date.now() - (this.opts.graceMs ?? 5 * 60_000);
    const candidates = blobs.filter((b) => !this.inUse.has(b.sha) && b.used < recent).sort((a, b) => a.used - b.used);
    if (candidates.length === 0) return;
    // which folders link which blob (by inode)
    const foldersDir = join(this.root, "folders");
    const linkedBy = new Map<number, string[]>();
    for (const folder of await readdir(foldersDir).catch(() => [] as string[])) {
      if (folder.startsWith(".")) continue;
      for (const f of await readdir(join(foldersDir, folder)).catch(() => [] as string[])) {
        const st = await stat(join(foldersDir, folder, f)).catch(() => null);
        if (!st) continue;
        const l = linkedBy.get(st.ino);
        if (l) l.push(folder);
        else linkedBy.set(st.ino, [folder]);
      }
    }
    for (const b of candidates) {
      if (total <= maxBytes) break;
      for (const folder of new Set(linkedBy.get(b.ino) ?? []))
        await rm(join(foldersDir, folder), { recursive: true, force: true });
      await rm(b.path, { force: true });
      this.verified.delete(b.sha);
      total -= b.size;
      this.stats.evicted++;
      this.stats.evictedBytes += b.size;
    }
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
