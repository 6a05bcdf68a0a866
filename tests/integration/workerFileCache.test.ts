/**
 * The remote worker's file cache under its size cap (NEURFLOW_WORKER_CACHE_BYTES): least recently
 * used blobs are removed with the folders that link them; the current job's files and recently
 * used ones never are; an evicted folder is fetched and laid out again when a later job needs it.
 * Real files in a temp folder; the platform's file route stands in as a function serving bytes.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileCache, workerCacheBytes } from "~/server/jobs/platform/fileCache";
import type { FileRef } from "~/server/workers/protocol";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function file(name: string, fill: number, size = 1000): { ref: FileRef; body: Buffer } {
  const body = Buffer.alloc(size, fill);
  const sha256 = createHash("sha256").update(body).digest("hex");
  return { ref: { scope: { kind: "model", id: 1 }, name, size, sha256 }, body };
}

function cacheWith(files: ReturnType<typeof file>[], opts: { maxBytes: number | null; graceMs?: number }) {
  const root = mkdtempSync(join(tmpdir(), "nf-cache-"));
  dirs.push(root);
  const bodies = new Map(files.map((f) => [f.ref.sha256, f.body]));
  const cache = new FileCache(
    root,
    async (ref) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new Uint8Array(bodies.get(ref.sha256)!));
          c.close();
        },
      }) as never,
    10_000,
    opts,
  );
  const blobs = () => readdirSync(join(root, "blobs")).filter((n) => !n.startsWith("."));
  const age = (f: ReturnType<typeof file>, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(root, "blobs", f.ref.sha256), t, t);
  };
  return { root, cache, blobs, age };
}

describe("the worker's file cache size cap", () => {
  it("removes the least recently used blobs and the folders linking them, never the current job's; an evicted folder comes back", async () => {
    const [a, b, c, d] = [file("a.bin", 1), file("b.bin", 2), file("c.bin", 3), file("d.bin", 4)];
    const { cache, blobs, age } = cacheWith([a, b, c, d], { maxBytes: 2500, graceMs: 0 });
    cache.beginJob();
    const dirA = await cache.folder([a.ref]);
    cache.beginJob();
    const dirB = await cache.folder([b.ref]);
    age(a, 300);
    age(b, 200);
    cache.beginJob();
    const dirC = await cache.folder([c.ref]); // 3000 bytes: A (oldest) goes, with its folder
    expect(blobs().sort()).toEqual([b.ref.sha256, c.ref.sha256].sort());
    expect(existsSync(dirA)).toBe(false);
    expect(existsSync(dirB) && existsSync(dirC)).toBe(true);
    expect(cache.stats).toMatchObject({ fetched: 3, evicted: 1, evictedBytes: 1000 });

    // a reuse makes B the most recently used: D's fetch evicts C, not B
    age(c, 100);
    cache.beginJob();
    await cache.folder([b.ref]);
    cache.beginJob();
    await cache.folder([d.ref]);
    expect(blobs().sort()).toEqual([b.ref.sha256, d.ref.sha256].sort());
    expect(existsSync(dirC)).toBe(false);

    // an evicted folder is fetched and laid out again, with the right bytes
    cache.beginJob();
    const again = await cache.folder([a.ref]);
    expect(readFileSync(join(again, "a.bin")).equals(a.body)).toBe(true);
    expect(cache.stats.fetched).toBe(5);
  });

  it("keeps the current job's files even past the cap, and files used within the grace period", async () => {
    const files = [file("e.bin", 5), file("f.bin", 6), file("g.bin", 7), file("h.bin", 8)];
    const [e, f, g, h] = files;
    const { cache, blobs, age } = cacheWith(files, { maxBytes: 2500, graceMs: 0 });
    cache.beginJob();
    await cache.folder([h!.ref]);
    age(h!, 60);
    cache.beginJob();
    const dir = await cache.folder([e!.ref, f!.ref, g!.ref], 1); // one job, 3000 bytes on its own
    expect(blobs().sort()).toEqual([e, f, g].map((x) => x!.ref.sha256).sort());
    expect(readdirSync(dir).sort()).toEqual(["e.bin", "f.bin", "g.bin"]);

    // the default grace (five minutes): a file another worker used a minute ago stays
    const graced = cacheWith(files, { maxBytes: 1500 });
    graced.cache.beginJob();
    await graced.cache.folder([e!.ref]);
    graced.age(e!, 60);
    graced.cache.beginJob();
    await graced.cache.folder([f!.ref]);
    expect(graced.blobs()).toHaveLength(2);
    expect(graced.cache.stats.evicted).toBe(0);
  });

  it("reads NEURFLOW_WORKER_CACHE_BYTES: bytes or K/M/G/T, unset for no cap, anything else refused", () => {
    expect(workerCacheBytes({})).toBeNull();
    expect(workerCacheBytes({ NEURFLOW_WORKER_CACHE_BYTES: " " })).toBeNull();
    expect(workerCacheBytes({ NEURFLOW_WORKER_CACHE_BYTES: "5000" })).toBe(5000);
    expect(workerCacheBytes({ NEURFLOW_WORKER_CACHE_BYTES: "20G" })).toBe(20 * 1024 ** 3);
    expect(workerCacheBytes({ NEURFLOW_WORKER_CACHE_BYTES: "1.5GiB" })).toBe(1.5 * 1024 ** 3);
    expect(workerCacheBytes({ NEURFLOW_WORKER_CACHE_BYTES: "512m" })).toBe(512 * 1024 ** 2);
    for (const bad of ["lots", "-1", "0", "20 X"])
      expect(() => workerCacheBytes({ NEURFLOW_WORKER_CACHE_BYTES: bad })).toThrow(/NEURFLOW_WORKER_CACHE_BYTES/);
  });
});
