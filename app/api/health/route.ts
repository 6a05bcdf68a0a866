/** `GET /api/health`: is the web app up, does its database answer, does its queue answer (server/workers/health.ts). */
import { getDb } from "~/db/client";
import { getQueue } from "~/server/api/appContext";
import { health } from "~/server/workers/health";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  const h = await health(getDb(), getQueue());
  return Response.json(h, { status: h.status === "ok" ? 200 : 503, headers: { "cache-control": "no-store" } });
}
