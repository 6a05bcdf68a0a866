/** Reading uploads out of FormData at the boundary, with clear errors. */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import type { UploadedFile } from "~/server/storage/models";

function bad(message: string): never {
  throw new TRPCError({ code: "BAD_REQUEST", message });
}

export async function fileField(form: FormData, name: string, required: true): Promise<UploadedFile>;
export async function fileField(form: FormData, name: string, required?: false): Promise<UploadedFile | undefined>;
export async function fileField(form: FormData, name: string, required = false): Promise<UploadedFile | undefined> {
  const all = form.getAll(name);
  if (all.length > 1) bad(`field "${name}": one file expected, got ${all.length}`);
  const v = all[0];
  if (v == null) return required ? bad(`field "${name}": a file is required`) : undefined;
  if (typeof v === "string") bad(`field "${name}": a file is expected, not text`);
  return { name: v.name, data: Buffer.from(await v.arrayBuffer()) };
}

export async function fileFields(form: FormData, name: string): Promise<UploadedFile[]> {
  const out: UploadedFile[] = [];
  for (const v of form.getAll(name)) {
    if (typeof v === "string") bad(`field "${name}": files are expected, not text`);
    out.push({ name: v.name, data: Buffer.from(await v.arrayBuffer()) });
  }
  return out;
}

/** The FormData's text fields as a plain object (last value wins), for a zod schema. */
export function textFields(form: FormData): Record<string, string> {
  const out: Record<string, string> = {};
  form.forEach((v, k) => {
    if (typeof v === "string") out[k] = v;
  });
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
