/**
 * Runs before every page (API routes and assets skip it):
 *  - tells server components which page they render: the path and query go upstream in a request
 *    header (`REQUEST_PATH_HEADER`), which `requireUser` turns into `/signin?next=…` for a
 *    signed-out visitor; a value the client sent under that name is replaced;
 *  - sets the page's Content-Security-Policy with a fresh nonce (`server/security/headers.ts`):
 *    Next.js reads the nonce from the request's CSP header and puts it on its own scripts.
 * The other security headers (and the API routes' CSP) come from next.config.ts.
 */
import { NextResponse, type NextRequest } from "next/server";
import { REQUEST_PATH_HEADER } from "~/server/auth/nextPath";
import { pageCsp } from "~/server/security/headers";

export function proxy(request: NextRequest) {
  const url = request.nextUrl.clone();
  url.searchParams.delete("_rsc"); // the client router's cache key, not part of the page's address
  const nonce = btoa(crypto.randomUUID());
  const csp = pageCsp(nonce, process.env.NODE_ENV !== "production");
  const headers = new Headers(request.headers);
  headers.set(REQUEST_PATH_HEADER, url.pathname + url.search);
  headers.set("x-nonce", nonce);
  headers.set("Content-Security-Policy", csp);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set("Content-Security-Policy", csp);
  return response;
}

export const config = {
  matcher: ["/((?!api/|_next/|favicon\\.ico).*)"],
};
