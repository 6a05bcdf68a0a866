/**
 * Uploads at the boundary. Over HTTP, a multipart body is streamed to disk by `busboy`
 * (`parseMultipart`, called by the route only after the session and role were checked): each file
 * part goes to its own file in a temp folder `<data>/tmp/upload-<uuid>/`, with limits on parts,
 * fields and bytes, and nothing is held in memory beyond busboy's small buffers. The procedures see
 * an `UploadForm` (text fields + files on disk). An in-process caller (server code, tests) may pass
 * a `FormData` instead; `withUpload` writes its files to the same kind of temp folder. Either way
 * the temp folder is removed when the procedure ends.
 */
import { TRPCError } from "@trpc/server";
import busboy from "busboy";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { z } from "zod";
import { tmpDir } from "~/server/storage/paths";

function bad(message: string): never {
  throw new TRPCError({ code: "BAD_REQUEST", message });
}

/** One uploaded file, on disk. */
export interface FormFile {
  /** The form field that carried it. */
  field: string;
  /** The client's file name. */
  name: string;
  /** Where it lies (inside the form's temp folder). */
  path: string;
  size: number;
}

/** A parsed multipart form whose files lie in `dir` (removed with `dispose`). */
export class UploadForm {
  constructor(
    readonly dir: string,
    readonly fields: ReadonlyArray<readonly [string, string]>,
    readonly files: readonly FormFile[],
  ) {}
  dispose(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

/** What an upload procedure accepts: a form parsed from HTTP, or a FormData from an in-process caller. */
export const uploadInput = z.union([z.instanceof(UploadForm), z.instanceof(FormData)]);

export interface MultipartLimits {
  /** The whole body as sent (boundaries and headers included). */
  bodyBytes: number;
  /** All file bytes together. */
  totalBytes: number;
  /** One file. */
  fileBytes: number;
  files: number;
  fields: number;
  /** One text field. */
  fieldBytes: number;
}

export class MultipartError extends Error {
  override name = "MultipartError";
  constructor(
    message: string,
    readonly status: 400 | 413,
  ) {
    super(message);
  }
}

const newFormDir = async (root: string) => {
  const dir = join(tmpDir(root), `upload-${randomUUID()}`);
  await mkdir(dir, { recursive: true });
  return dir;
};

/**
 * Streams a multipart body to files under a new temp folder, enforcing `lim` as the bytes arrive
 * (a part past a limit stops the parse at once). On any failure the folder is removed and a
 * MultipartError (400 or 413) is thrown.
 */
export async function parseMultipart(
  root: string,
  headers: Headers,
  body: ReadableStream<Uint8Array> | null,
  lim: MultipartLimits,
): Promise<UploadForm> {
  const type = headers.get("content-type") ?? "";
  if (!body) throw new MultipartError("the multipart request has no body", 400);
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: { "content-type": type },
      limits: {
        fileSize: lim.fileBytes,
        files: lim.files,
        fields: lim.fields,
        fieldSize: lim.fieldBytes,
        parts: lim.files + lim.fields,
        fieldNameSize: 200,
      },
      defParamCharset: "utf8",
    });
  } catch (e) {
    throw new MultipartError(`not a multipart form: ${(e as Error).message}`, 400);
  }
  const dir = await newFormDir(root);
  const fields: [string, string][] = [];
  const files: FormFile[] = [];
  const writes: Promise<void>[] = [];
  let total = 0;
  let failure: MultipartError | null = null;
  // a small read-ahead: the limits fall within a few KiB of where they are passed
  const source = Readable.fromWeb(body as WebReadableStream<Uint8Array>, { highWaterMark: 1024 });
  let bodyTotal = 0;
  const fail = (e: MultipartError) => {
    failure ??= e;
    source.unpipe(bb);
    source.destroy();
    bb.destroy();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      bb.on("field", (name, value, info) => {
        if (info.valueTruncated)
          return fail(new MultipartError(`field "${name}" has more than ${lim.fieldBytes} bytes`, 413));
        fields.push([name, value]);
      });
      bb.on("file", (field, stream, info) => {
        if (failure) return stream.resume();
        const path = join(dir, `${files.length}.part`);
        const f: FormFile = { field, name: info.filename ?? "", path, size: 0 };
        files.push(f);
        stream.on("data", (chunk: Buffer) => {
          f.size += chunk.length;
          total += chunk.length;
          if (total > lim.totalBytes)
            fail(
              new MultipartError(
                `the uploaded files have more than ${lim.totalBytes} bytes; at most ${lim.totalBytes} are accepted`,
                413,
              ),
            );
        });
        stream.on("limit", () =>
          fail(
            new MultipartError(
              `the file "${f.name}" (field "${field}") has more than ${lim.fileBytes} bytes; at most ${lim.fileBytes} are accepted`,
              413,
            ),
          ),
        );
        writes.push(
          pipeline(stream, createWriteStream(path, { flags: "wx" })).catch((e: Error) => {
            if (!failure) throw e;
          }),
        );
      });
      bb.on("filesLimit", () => fail(new MultipartError(`more than ${lim.files} files in one form`, 413)));
      bb.on("fieldsLimit", () => fail(new MultipartError(`more than ${lim.fields} text fields in one form`, 413)));
      bb.on("partsLimit", () => fail(new MultipartError(`more than ${lim.files + lim.fields} parts in one form`, 413)));
      bb.on("error", (e: Error) =>
        failure ? resolve() : reject(new MultipartError(`malformed multipart body: ${e.message}`, 400)),
      );
      bb.on("close", () => resolve());
      source.on("data", (chunk: Buffer) => {
        bodyTotal += chunk.length;
        if (bodyTotal > lim.bodyBytes)
          fail(
            new MultipartError(
              `the request has more than ${lim.bodyBytes} bytes; at most ${lim.bodyBytes} are accepted`,
              413,
            ),
          );
      });
      source.on("error", (e) =>
        failure ? resolve() : reject(new MultipartError(`the upload was interrupted: ${e.message}`, 400)),
      );
      source.on("close", () => {
        if (failure) resolve();
      });
      source.pipe(bb);
    });
    await Promise.all(writes);
    if (failure) throw failure;
    return new UploadForm(dir, fields, files);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    if (e instanceof MultipartError) throw e;
    throw new MultipartError(`the upload failed: ${(e as Error).message}`, 400);
  }
}

/** A FormData's files written to a temp folder (in-process callers). */
async function fromFormData(root: string, form: FormData): Promise<UploadForm> {
  const dir = await newFormDir(root);
  const fields: [string, string][] = [];
  const files: FormFile[] = [];
  try {
    for (const [field, v] of form.entries()) {
      if (typeof v === "string") fields.push([field, v]);
      else {
        const path = join(dir, `${files.length}.part`);
        await writeFile(path, new Uint8Array(await v.arrayBuffer()), { flag: "wx" });
        files.push({ field, name: v.name, path, size: v.size });
      }
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return new UploadForm(dir, fields, files);
}

/** Runs `f` on the upload as an UploadForm, then removes its temp folder (whatever happened). */
export async function withUpload<T>(
  root: string,
  input: UploadForm | FormData,
  f: (form: UploadForm) => Promise<T>,
): Promise<T> {
  const form = input instanceof UploadForm ? input : await fromFormData(root, input);
  try {
    return await f(form);
  } finally {
    await form.dispose();
  }
}

export function fileField(form: UploadForm, name: string, required: true): FormFile;
export function fileField(form: UploadForm, name: string, required?: false): FormFile | undefined;
export function fileField(form: UploadForm, name: string, required = false): FormFile | undefined {
  if (form.fields.some(([k]) => k === name)) bad(`field "${name}": a file is expected, not text`);
  const all = form.files.filter((f) => f.field === name);
  if (all.length > 1) bad(`field "${name}": one file expected, got ${all.length}`);
  const v = all[0];
  if (v == null) return required ? bad(`field "${name}": a file is required`) : undefined;
  return v;
}

export function fileFields(form: UploadForm, name: string): FormFile[] {
  if (form.fields.some(([k]) => k === name)) bad(`field "${name}": files are expected, not text`);
  return form.files.filter((f) => f.field === name);
}

/** A file's bytes, refused past `maxBytes` before anything is read. */
export async function readFormFile(f: FormFile, maxBytes: number, what = `the file "${f.name}"`): Promise<Buffer> {
  if (f.size > maxBytes) bad(`${what} has ${f.size} bytes; at most ${maxBytes} are accepted`);
  const h = await open(f.path, "r");
  try {
    return await readFile(h);
  } finally {
    await h.close();
  }
}

/** The form's text fields as a plain object (last value wins), for a zod schema. */
export function textFields(form: UploadForm): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of form.fields) out[k] = v;
  return out;
}

/**
 * A number typed into a form field: an empty field is no value (the schema decides whether that is
 * allowed: `.optional()` takes the default), anything else must read as a number. Unlike
 * `z.coerce.number()`, "" never turns into 0.
 */
export function formNumber<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (typeof v !== "string" ? v : v.trim() === "" ? undefined : Number(v)), schema);
}
