/** IG heatmap overlay of patch idx for a neuron group (PNG with alpha; 404 until computed): session or `?share=` token of this circuit. */
import { imageParams, serveCircuitImage } from "~/server/circuits/imageRoute";
import { renderHeatmap } from "~/server/circuits/renders";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET(
  req: Request,
  { params }: { params: Promise<{ id: string; group: string; idx: string }> },
): Promise<Response> {
  return serveCircuitImage(req, await params, imageParams.heatmap, (_db, root, p) =>
    renderHeatmap(root, p.id, p.group, p.idx),
  );
}
