/** Image `idx` of an evaluation image set (uploaded or selected for image debugging), PNG at the model input size; session only. */
import { z } from "zod";
import { imageParams, serveCircuitImage } from "~/server/circuits/imageRoute";
import { etagOf, RenderNotFound } from "~/server/circuits/renders";
import { imageSetIdPattern } from "~/server/evaluations/store";
import { readSetImage } from "~/server/evaluations/uploads";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const params = imageParams.patch.extend({ set: z.string().regex(imageSetIdPattern, "not an image set id") });

export async function GET(
  req: Request,
  { params: p }: { params: Promise<{ id: string; set: string; idx: string }> },
): Promise<Response> {
  // evaluation pages are for signed-in users: a share token does not open these
  const url = new URL(req.url);
  if (url.searchParams.has("share"))
    return Response.json({ error: "sign in to see evaluation images" }, { status: 401 });
  return serveCircuitImage(req, await p, params, async (_db, root, q) => {
    const body = await readSetImage(root, q.id, q.set, q.idx);
    if (!body) throw new RenderNotFound(`no image ${q.idx} in set ${q.set} of circuit ${q.id}`);
    return { body, etag: etagOf(body), contentType: "image/png" };
  });
}
