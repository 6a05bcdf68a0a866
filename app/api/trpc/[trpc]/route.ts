/** tRPC over HTTP (queries, mutations, FormData uploads) and SSE (subscriptions); see server/api/httpHandler.ts. */
import { getDb } from "~/db/client";
import { getQueue } from "~/server/api/appContext";
import { handleTrpcRequest } from "~/server/api/httpHandler";
import { storageRoot } from "~/server/storage/paths";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

function handler(request: Request): Promise<Response> {
  return handleTrpcRequest(request, { db: getDb(), queue: getQueue(), storageRoot: storageRoot() });
}

export { handler as GET, handler as POST };
