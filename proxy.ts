/**
 * Tells server components which page they render: the path and query go upstream in a request
 * header (`REQUEST_PATH_HEADER`), which `requireUser` turns into `/signin?next=…` for a signed-out
 * visitor. A value the client sent under that name is replaced. API routes and assets skip this.
 */
import { NextResponse, type NextRequest } from "next/server";
import { REQUEST_PATH_HEADER } from "~/server/auth/nextPath";

export function proxy(request: NextRequest) {
  const url = request.nextUrl.clone();
  url.searchParams.delete("_rsc"); // the client router's cache key, not part of the page's address
  const headers = new Headers(request.headers);
  headers.set(REQUEST_PATH_HEADER, url.pathname + url.search);
  return NextResponse.next({ request: { headers } });
}

export const config = {
  matcher: ["/((?!api/|_next/|favicon\\.ico).*)"],
};
