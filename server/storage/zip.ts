/**
 * Reading an uploaded zip from its file on disk with `yauzl`, with the checks an upload needs:
 * entry count, declared total size, per-entry compression ratio, encryption and compression
 * method (before anything is inflated), an entry never inflating past its declared size (yauzl's
 * `validateEntrySizes`), and CRC-32 (checked here: yauzl does not). Names are decoded here and
 * returned as given; callers check them (`safeEntryPath`).
 */
import { crc32 } from "node:zlib";
import yauzl from "yauzl";
import { UploadError } from "./limits";

export interface ZipEntry {
  name: string;
  isDirectory: boolean;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  /** yauzl's entry, for `read`. */
  raw: yauzl.Entry;
}

export interface ZipLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxRatio: number;
}

export interface OpenZip {
  entries: ZipEntry[];
  /** One entry's bytes (at most its declared size), CRC-checked. */
  read(e: ZipEntry): Promise<Buffer>;
  close(): void;
}

function openFile(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    // names stay bytes (decodeStrings false): yauzl would refuse unsafe names with its own
    // messages; `safeEntryPath` names the rule that was broken
    yauzl.open(
      path,
      { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: false },
      (err, zip) =>
        err || !zip ? reject(new UploadError(`not a zip file (${err?.message ?? "unreadable"})`)) : resolve(zip),
    ),
  );
}

function entryName(e: yauzl.Entry): string {
  const raw = e.fileName as unknown as Buffer;
  // bit 11: UTF-8 names; otherwise CP437, read as Latin-1 (the bytes ASCII names share)
  return raw.toString(e.generalPurposeBitFlag & 0x800 ? "utf8" : "latin1");
}

/** Opens the zip at `path` and lists its entries, checking every limit before anything is inflated. */
export async function openZip(path: string, lim: ZipLimits): Promise<OpenZip> {
  const zip = await openFile(path);
  try {
    if (zip.entryCount > lim.maxEntries)
      throw new UploadError(`the zip has ${zip.entryCount} entries; at most ${lim.maxEntries} are allowed`);
    const entries: ZipEntry[] = [];
    let total = 0;
    await new Promise<void>((resolve, reject) => {
      zip.on("error", (e: Error) =>
        reject(e instanceof UploadError ? e : new UploadError(`corrupt zip: ${e.message}`)),
      );
      zip.on("end", () => resolve());
      zip.on("entry", (raw: yauzl.Entry) => {
        try {
          const name = entryName(raw);
          if (raw.generalPurposeBitFlag & 0x1)
            throw new UploadError(`"${name}": encrypted zip entries are not supported`);
          const isDirectory = name.endsWith("/");
          const method = raw.compressionMethod;
          if (!isDirectory && method !== 0 && method !== 8)
            throw new UploadError(`"${name}": compression method ${method} is not supported (use deflate)`);
          const size = raw.uncompressedSize;
          const compressedSize = raw.compressedSize;
          total += size;
          if (total > lim.maxTotalBytes)
            throw new UploadError(
              `the zip expands to more than ${lim.maxTotalBytes} bytes (limit); refusing to unpack it`,
            );
          if (size > 0 && size / Math.max(1, compressedSize) > lim.maxRatio)
            throw new UploadError(
              `"${name}" compresses ${Math.round(size / Math.max(1, compressedSize))}:1, more than ${lim.maxRatio}:1 allowed (zip bomb?)`,
            );
          entries.push({ name, isDirectory, method, compressedSize, size, crc: raw.crc32 >>> 0, raw });
          if (entries.length > lim.maxEntries) throw new UploadError(`the zip has more than ${lim.maxEntries} entries`);
          zip.readEntry();
        } catch (e) {
          reject(e);
        }
      });
      zip.readEntry();
    });
    return { entries, read: (e) => readEntry(zip, e), close: () => zip.close() };
  } catch (e) {
    zip.close();
    throw e;
  }
}

function readEntry(zip: yauzl.ZipFile, e: ZipEntry): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(e.raw, (err, stream) => {
      if (err || !stream) return reject(new UploadError(`"${e.name}" cannot be read: ${err?.message ?? "no data"}`));
      const chunks: Buffer[] = [];
      let got = 0;
      stream.on("data", (c: Buffer) => {
        got += c.length;
        if (got > e.size) {
          stream.destroy();
          return reject(new UploadError(`"${e.name}" inflates past its declared size (zip bomb?)`));
        }
        chunks.push(c);
      });
      stream.on("error", (err: Error) =>
        reject(
          /too many bytes/.test(err.message)
            ? new UploadError(`"${e.name}" inflates past its declared size (zip bomb?)`)
            : /too few bytes/.test(err.message)
              ? new UploadError(`"${e.name}" is shorter than its declared size (corrupt zip)`)
              : new UploadError(`"${e.name}" cannot be decompressed: ${err.message}`),
        ),
      );
      stream.on("end", () => {
        const out = Buffer.concat(chunks, got);
        if (out.length !== e.size)
          return reject(new UploadError(`"${e.name}" has ${out.length} bytes, the zip says ${e.size}`));
        if (crc32(out) >>> 0 !== e.crc) return reject(new UploadError(`"${e.name}" fails its CRC check (corrupt zip)`));
        resolve(out);
      });
    });
  });
}

/**
 * Splits an entry name into safe path segments, or throws for zip-slip attempts: absolute paths,
 * drive letters, `..`, backslashes, NUL.
 */
export function safeEntryPath(name: string): string[] {
  if (name.includes("\\") || name.includes("\0")) throw new UploadError(`unsafe path in zip: "${name}"`);
  if (name.startsWith("/") || /^[a-zA-Z]:/.test(name)) throw new UploadError(`absolute path in zip: "${name}"`);
  const parts = name.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.some((s) => s === "..")) throw new UploadError(`path escapes the dataset folder: "${name}"`);
  return parts;
}
