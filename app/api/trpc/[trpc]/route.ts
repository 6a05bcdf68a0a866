/** tRPC over HTTP (queries, mutations, FormData uploads) and SSE (subscriptions). */
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getDb } from "~/db/client";
import { getQueue } from "~/server/api/appContext";
import { createContext } from "~/server/api/context";
import { limitRequest } from "~/server/api/requestLimit";
import { appRouter } from "~/server/api/root";
import { limits } from "~/server/storage/limits";
import { storageRoot } from "~/server/storage/paths";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

async function handler(request: Request): Promise<Response> {
  const req = await limitRequest(request, limits.requestBytes);
  if (req instanceof Response) return req;
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: ({ resHeaders }) =>
      createContext({ db: getDb(), queue: getQueue(), storageRoot: storageRoot(), headers: req.headers, resHeaders }),
    onError: ({ error, path }) => {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`tRPC ${path}:`, error);
    },
  });
}

export { handler as GET, handler as POST };
