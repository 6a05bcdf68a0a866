/** Source image of a circuit at the model input size (PNG): session or `?share=` token of this circuit. */
import { imageParams, serveCircuitImage } from "~/server/circuits/imageRoute";
import { renderSourceImage } from "~/server/circuits/renders";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET(
  req: Request,
  { params }: { params: Promise<{ id: string; idx: string }> },
): Promise<Response> {
  return serveCircuitImage(req, await params, imageParams.patch, (db, root, p) =>
    renderSourceImage(db, root, p.id, p.idx),
  );
}
