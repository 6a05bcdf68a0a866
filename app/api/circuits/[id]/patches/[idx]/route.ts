/** Patch image (PNG, model input size): session or `?share=` token of this circuit. */
import { imageParams, serveCircuitImage } from "~/server/circuits/imageRoute";
import { renderPatch } from "~/server/circuits/renders";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET(
  req: Request,
  { params }: { params: Promise<{ id: string; idx: string }> },
): Promise<Response> {
  return serveCircuitImage(req, await params, imageParams.patch, (db, root, p) => renderPatch(db, root, p.id, p.idx));
}
