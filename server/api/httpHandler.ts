/**
 * The tRPC HTTP endpoint (app/api/trpc/[trpc]/route.ts), in the order that keeps an unauthenticated
 * client from costing the server memory or doing anything on a signed-in user's behalf:
 *
 *   1. a POST from another origin is refused (CSRF; `server/security/origin.ts`);
 *   2. a declared Content-Length over the limit is refused, before anything is read;
 *   3. a multipart upload: the procedure is looked up, the session and role checked, and only then
 *      is the body streamed to disk by busboy (`parseMultipart`), counted as it arrives; the
 *      procedure gets the parsed form (files on disk), whose temp folder is removed afterwards;
 *   4. any other body (JSON) is read into memory only up to a limit: NEURFLOW_MAX_ANON_JSON_BYTES
 *      (64 KiB) without a valid session, NEURFLOW_MAX_JSON_BYTES (64 MiB) with one;
 *   5. batches hold at most NEURFLOW_MAX_BATCH_CALLS calls.
 */
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import type { Db } from "~/db/client";
import type { JobQueue } from "~/server/jobs/queue";
import { crossOriginReason } from "~/server/security/origin";
import { limits } from "~/server/storage/limits";
import { createContext } from "./context";
import { MultipartError, parseMultipart, type UploadForm } from "./formData";
import { limitRequest } from "./requestLimit";
import { appRouter } from "./root";
import { hasRole, type Meta } from "./trpc";

export const ENDPOINT = "/api/trpc";

export interface HandlerDeps {
  db: Db;
  queue: JobQueue;
  storageRoot: string;
}

const STATUS: Partial<Record<TRPC_ERROR_CODE_KEY, number>> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
};

/** An error response shaped as tRPC's own (superjson-wrapped), so the client shows its message. */
export function trpcErrorResponse(code: TRPC_ERROR_CODE_KEY, message: string, path?: string): Response {
  const httpStatus = STATUS[code] ?? 400;
  return Response.json(
    { error: { json: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus, path } } } },
    { status: httpStatus },
  );
}

function procedurePaths(url: URL): string[] {
  const rest = url.pathname.startsWith(ENDPOINT + "/") ? url.pathname.slice(ENDPOINT.length + 1) : "";
  return decodeURIComponent(rest).split(",");
}

interface ProcedureLike {
  _def: { type: string; meta?: Meta };
}

function procedureAt(path: string): ProcedureLike | null {
  const all = appRouter._def.procedures as unknown as Record<string, ProcedureLike | undefined>;
  return Object.hasOwn(all, path) ? (all[path] ?? null) : null;
}

const isMultipart = (req: Request) =>
  (req.headers.get("content-type") ?? "").toLowerCase().startsWith("multipart/form-data");

export async function handleTrpcRequest(request: Request, deps: HandlerDeps): Promise<Response> {
  if (request.method === "POST") {
    const cross = crossOriginReason(request.headers);
    if (cross) return trpcErrorResponse("FORBIDDEN", cross);
  }
  const url = new URL(request.url);
  if (url.searchParams.has("batch")) {
    const calls = procedurePaths(url).length;
    if (calls > limits.batchCalls)
      return trpcErrorResponse(
        "BAD_REQUEST",
        `a batch of ${calls} calls; at most ${limits.batchCalls} are accepted in one request (NEURFLOW_MAX_BATCH_CALLS)`,
      );
  }
  let form: UploadForm | null = null;
  let req: Request;
  if (request.method === "POST" && isMultipart(request)) {
    const [path, ...more] = procedurePaths(url);
    if (more.length || url.searchParams.has("batch"))
      return trpcErrorResponse("BAD_REQUEST", "a multipart upload is one call, not a batch");
    const proc = path ? procedureAt(path) : null;
    const upload = proc?._def.meta?.upload;
    if (!proc || proc._def.type !== "mutation" || !upload)
      return trpcErrorResponse("NOT_FOUND", `no upload procedure "${(path ?? "").slice(0, 100)}"`, path);
    // the session and the role, before a byte of the body is read
    const ctx = createContext({ ...deps, headers: request.headers, resHeaders: null });
    const needed = proc._def.meta!.auth;
    if (needed !== "public") {
      if (!ctx.user) return trpcErrorResponse("UNAUTHORIZED", "sign in first", path);
      if (!hasRole(ctx.user.role, needed))
        return trpcErrorResponse("FORBIDDEN", `this needs the ${needed} role; you are ${ctx.user.role}`, path);
    }
    const declared = declaredLength(request);
    if (declared instanceof Response) return declared;
    if (declared != null && declared > limits.requestBytes) return tooLarge(declared, limits.requestBytes);
    try {
      form = await parseMultipart(deps.storageRoot, request.headers, request.body, {
        bodyBytes: limits.requestBytes,
        totalBytes: Math.min(limits.requestBytes, upload.totalBytes),
        fileBytes: upload.fileBytes,
        files: upload.files,
        fields: 20,
        fieldBytes: 64 * 1024,
      });
    } catch (e) {
      if (e instanceof MultipartError)
        return e.status === 413
          ? Response.json({ error: e.message }, { status: 413 })
          : trpcErrorResponse("BAD_REQUEST", e.message, path);
      throw e;
    }
    const parsed = form;
    // the tRPC fetch adapter asks the request for its FormData: it gets the form streamed to disk
    req = new Request(request.url, { method: "POST", headers: request.headers, signal: request.signal });
    Object.defineProperty(req, "formData", { value: async () => parsed });
  } else {
    // a session's body may be large (a circuit import); without one, only a few KiB are read
    const signedIn =
      request.method === "POST" && createContext({ ...deps, headers: request.headers, resHeaders: null }).user != null;
    const limited = await limitRequest(request, signedIn ? limits.jsonBytes : limits.anonymousJsonBytes);
    if (limited instanceof Response) return limited;
    req = limited;
  }
  try {
    return await fetchRequestHandler({
      endpoint: ENDPOINT,
      req,
      router: appRouter,
      maxBatchSize: limits.batchCalls,
      createContext: ({ resHeaders }) => createContext({ ...deps, headers: req.headers, resHeaders }),
      onError: ({ error, path }) => {
        if (error.code === "INTERNAL_SERVER_ERROR") console.error(`tRPC ${path}:`, error);
      },
    });
  } finally {
    await form?.dispose();
  }
}

function declaredLength(req: Request): number | null | Response {
  const declared = req.headers.get("content-length");
  if (declared == null) return null;
  const length = Number(declared);
  if (!Number.isFinite(length) || length < 0)
    return Response.json({ error: `Content-Length "${declared}" is not a byte count` }, { status: 400 });
  return length;
}

function tooLarge(bytes: number, limit: number): Response {
  return Response.json({ error: `the request has ${bytes} bytes; at most ${limit} are accepted` }, { status: 413 });
}
