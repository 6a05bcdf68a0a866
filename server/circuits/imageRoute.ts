/**
 * The shared body of the circuit image routes (patches, mosaics, Open Graph image, thumbnail):
 * validates the path parameters with zod, checks access (session or `?share=` token for this
 * circuit; share tokens rate-limited per address, 429 with Retry-After), renders (once; see renders.ts) and answers with an ETag and Cache-Control, or 304 when
 * the browser's copy is current.
 */
import "server-only";
import { z } from "zod";
import { getDb } from "~/db/client";
import { storageRoot } from "~/server/storage/paths";
import type { Db } from "~/db/client";
import { circuitReadAccess } from "./access";
import { RenderNotFound, type Rendered } from "./renders";

const idParam = z.coerce
  .number()
  .int()
  .positive()
  .max(2 ** 48);
const indexParam = z.coerce
  .number()
  .int()
  .min(0)
  .max(2 ** 48);

export const imageParams = {
  circuit: z.object({ id: idParam }),
  patch: z.object({ id: idParam, idx: indexParam }),
  group: z.object({ id: idParam, group: idParam }),
  heatmap: z.object({ id: idParam, group: idParam, idx: indexParam }),
};

/** Browsers keep a signed-in user's copy a day, a share-link holder's ten minutes (links can be revoked). */
export const CACHE_USER = "private, max-age=86400";
export const CACHE_SHARE = "private, max-age=600";

export interface ImageRouteEnv {
  db: Db;
  storageRoot: string;
  now?: number;
}

export async function serveCircuitImage<P extends { id: number }>(
  req: Request,
  rawParams: unknown,
  schema: z.ZodType<P>,
  render: (db: Db, root: string, p: P) => Promise<Rendered>,
  env: ImageRouteEnv = { db: getDb(), storageRoot: storageRoot() },
): Promise<Response> {
  const parsed = schema.safeParse(rawParams);
  if (!parsed.success) return Response.json({ error: `bad path: ${parsed.error.issues[0]?.message}` }, { status: 400 });
  const share = new URL(req.url).searchParams.get("share");
  const access = await circuitReadAccess(env.db, parsed.data.id, req.headers, share, env.now);
  if (!access.ok)
    return Response.json(
      { error: access.message },
      {
        status: access.status,
        headers: {
          "cache-control": "no-store",
          ...(access.status === 429 ? { "retry-after": String(access.retryAfterS) } : {}),
        },
      },
    );
  let r: Rendered;
  try {
    r = await render(env.db, env.storageRoot, parsed.data);
  } catch (e) {
    if (e instanceof RenderNotFound) return Response.json({ error: e.message }, { status: 404 });
    throw e;
  }
  const headers = {
    etag: r.etag,
    "cache-control": access.via === "share" ? CACHE_SHARE : CACHE_USER,
    vary: "Cookie",
    "x-content-type-options": "nosniff",
  };
  const inm = req.headers.get("if-none-match");
  if (inm && inm.split(",").some((t) => t.trim() === r.etag)) return new Response(null, { status: 304, headers });
  return new Response(new Uint8Array(r.body), {
    headers: { ...headers, "content-type": r.contentType, "content-length": String(r.body.length) },
  });
}
