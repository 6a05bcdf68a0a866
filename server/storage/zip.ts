/**
 * A small zip reader (central directory + stored/deflate entries via node:zlib) with the checks an
 * upload needs: entry count, declared total size, per-entry compression ratio, a hard cap on the
 * inflated size of each entry (a lying header cannot blow up memory), CRC-32, and no encryption
 * or zip64. Paths are returned as given; callers check them (`safeEntryPath`).
 */
import { crc32, inflateRawSync } from "node:zlib";
import { UploadError } from "./limits";

export interface ZipEntry {
  name: string;
  isDirectory: boolean;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localHeaderOffset: number;
}

export interface ZipLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxRatio: number;
}

const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;

export function listZip(buf: Buffer, lim: ZipLimits): ZipEntry[] {
  // End of central directory: last 22 bytes + up to 64 KiB of comment.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new UploadError("not a zip file (no end-of-central-directory record)");
  const count = buf.readUInt16LE(eocd + 10);
  const cenSize = buf.readUInt32LE(eocd + 12);
  const cenOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cenOffset === 0xffffffff) throw new UploadError("zip64 archives are not supported");
  if (count > lim.maxEntries) throw new UploadError(`the zip has ${count} entries; at most ${lim.maxEntries} are allowed`);
  if (cenOffset + cenSize > buf.length) throw new UploadError("corrupt zip: central directory outside the file");
  const entries: ZipEntry[] = [];
  let total = 0;
  let p = cenOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== CEN_SIG) throw new UploadError("corrupt zip: bad central directory entry");
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const compressedSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const localHeaderOffset = buf.readUInt32LE(p + 42);
    const name = buf.toString(flags & 0x800 ? "utf8" : "latin1", p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (flags & 0x1) throw new UploadError(`"${name}": encrypted zip entries are not supported`);
    if (size === 0xffffffff || compressedSize === 0xffffffff) throw new UploadError("zip64 archives are not supported");
    const isDirectory = name.endsWith("/");
    if (!isDirectory && method !== 0 && method !== 8) throw new UploadError(`"${name}": compression method ${method} is not supported (use deflate)`);
    total += size;
    if (total > lim.maxTotalBytes)
      throw new UploadError(`the zip expands to more than ${lim.maxTotalBytes} bytes (limit); refusing to unpack it`);
    if (size > 0 && size / Math.max(1, compressedSize) > lim.maxRatio)
      throw new UploadError(`"${name}" compresses ${Math.round(size / Math.max(1, compressedSize))}:1, more than ${lim.maxRatio}:1 allowed (zip bomb?)`);
    entries.push({ name, isDirectory, method, compressedSize, size, crc, localHeaderOffset });
  }
  return entries;
}

/** Inflates one entry; never produces more than its declared size. */
export function readZipEntry(buf: Buffer, e: ZipEntry): Buffer {
  const h = e.localHeaderOffset;
  if (h + 30 > buf.length || buf.readUInt32LE(h) !== LOC_SIG) throw new UploadError(`corrupt zip: bad local header for "${e.name}"`);
  const start = h + 30 + buf.readUInt16LE(h + 26) + buf.readUInt16LE(h + 28);
  if (start + e.compressedSize > buf.length) throw new UploadError(`corrupt zip: "${e.name}" runs past the end of the file`);
  const raw = buf.subarray(start, start + e.compressedSize);
  let out: Buffer;
  if (e.method === 0) out = Buffer.from(raw);
  else {
    try {
      out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "ERR_BUFFER_TOO_LARGE") throw new UploadError(`"${e.name}" inflates past its declared size (zip bomb?)`);
      throw new UploadError(`"${e.name}" cannot be decompressed: ${(err as Error).message}`);
    }
  }
  if (out.length !== e.size) throw new UploadError(`"${e.name}" has ${out.length} bytes, the zip says ${e.size}`);
  if ((crc32(out) >>> 0) !== e.crc >>> 0) throw new UploadError(`"${e.name}" fails its CRC check (corrupt zip)`);
  return out;
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
