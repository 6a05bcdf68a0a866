/** The tRPC caller for server components: same routers, same auth, no HTTP. */
import "server-only";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import { getDb } from "~/db/client";
import { getQueue } from "~/server/api/appContext";
import { createContext } from "~/server/api/context";
import { createCaller } from "~/server/api/root";
import { storageRoot } from "~/server/storage/paths";
import { REQUEST_PATH_HEADER, signInHref } from "~/server/auth/nextPath";
import type { SessionUser } from "~/server/auth/sessions";
import { SHARE_HEADER } from "~/lib/circuits/viewTypes";

export const api = cache(async () =>
  createCaller(
    createContext({
      db: getDb(),
      queue: getQueue(),
      storageRoot: storageRoot(),
      headers: await headers(),
      resHeaders: null,
    }),
  ),
);

/** The signed-in user, or a redirect to the sign-in page, which returns to this page afterwards. */
export async function requireUser(): Promise<SessionUser> {
  const me = await (await api()).auth.me();
  if (!me.user) redirect(signInHref((await headers()).get(REQUEST_PATH_HEADER)));
  return me.user;
}

/** A caller that reads as the holder of a share link (no session): only `sharedReadProcedure`s of that circuit answer. */
export function shareApi(token: string) {
  return createCaller(
    createContext({
      db: getDb(),
      queue: getQueue(),
      storageRoot: storageRoot(),
      headers: new Headers({ [SHARE_HEADER]: token }),
      resHeaders: null,
    }),
  );
}
