/** The circuit's Open Graph preview (1200×630 PNG): session or `?share=` token of this circuit. */
import { imageParams, serveCircuitImage } from "~/server/circuits/imageRoute";
import { renderCircuitImage } from "~/server/circuits/renders";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  return serveCircuitImage(req, await params, imageParams.circuit, (db, root, p) =>
    renderCircuitImage(db, root, p.id, "og"),
  );
}
