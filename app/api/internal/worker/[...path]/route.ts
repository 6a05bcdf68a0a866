/** The internal worker API (server/workers/api.ts): worker tokens only, never user sessions. */
import { getDb } from "~/db/client";
import { getQueue } from "~/server/api/appContext";
import { handleWorkerApi } from "~/server/workers/api";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

type Params = { params: Promise<{ path: string[] }> };

async function handle(req: Request, { params }: Params): Promise<Response> {
  return handleWorkerApi(req, (await params).path, { db: getDb(), queue: getQueue() });
}

export const GET = handle;
export const POST = handle;
