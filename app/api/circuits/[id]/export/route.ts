/** Downloads a circuit as its `neurflow-circuit/1` JSON document (signed-in users). */
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { getDb } from "~/db/client";
import { getQueue } from "~/server/api/appContext";
import { createContext } from "~/server/api/context";
import { createCaller } from "~/server/api/root";
import { storageRoot } from "~/server/storage/paths";

export const runtime = "nodejs";

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await params;
  const caller = createCaller(
    createContext({
      db: getDb(),
      queue: getQueue(),
      storageRoot: storageRoot(),
      headers: req.headers,
      resHeaders: null,
    }),
  );
  try {
    const doc = await caller.circuits.export({ id: Number(id) });
    return new Response(JSON.stringify(doc, null, 1), {
      headers: {
        "content-type": "application/json; charset=utf-8",
        "content-disposition": `attachment; filename="circuit-${Number(id)}-${doc.class.name.replace(/[^A-Za-z0-9_.-]/g, "_")}.json"`,
      },
    });
  } catch (e) {
    if (e instanceof TRPCError) return Response.json({ error: e.message }, { status: getHTTPStatusCodeFromError(e) });
    throw e;
  }
}
