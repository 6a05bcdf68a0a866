/** A neuron group's mosaic (2×2 concept patches, PNG): session or `?share=` token of this circuit. */
import { imageParams, serveCircuitImage } from "~/server/circuits/imageRoute";
import { renderMosaic } from "~/server/circuits/renders";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET(
  req: Request,
  { params }: { params: Promise<{ id: string; group: string }> },
): Promise<Response> {
  return serveCircuitImage(req, await params, imageParams.group, (db, root, p) =>
    renderMosaic(db, root, p.id, p.group),
  );
}
