/**
 * The app's public origin and the same-origin check of state-changing requests (CSRF).
 *
 * NEURFLOW_PUBLIC_URL (e.g. `https://neurflow.example.org`) is the address people open the app at.
 * Every absolute URL the app writes (og:image, share links) is built on it, never on the request's
 * Host / X-Forwarded-Host headers, which a client or a misconfigured proxy controls. Unset (local
 * development), the origin is `http://localhost:<PORT or 3000>`, and the same port on 127.0.0.1 and
 * [::1] counts as the app's own too.
 *
 * A mutation (any POST to /api/trpc, FormData uploads included) is refused when the browser says it
 * comes from elsewhere: an `Origin` header other than the app's own, or `Sec-Fetch-Site` other than
 * `same-origin` / `none`. Requests that carry neither (curl, server-side callers) cannot have been
 * sent by a browser on another site's behalf, and pass.
 */

function configuredUrl(): URL | null {
  const v = process.env.NEURFLOW_PUBLIC_URL?.trim();
  if (!v) return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error(`NEURFLOW_PUBLIC_URL "${v}" is not an absolute URL (e.g. https://neurflow.example.org)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new Error(`NEURFLOW_PUBLIC_URL "${v}" must be an http(s) URL`);
  return u;
}

const devPort = () => process.env.PORT?.trim() || "3000";

/** The app's public origin, e.g. `https://neurflow.example.org` (no trailing slash). */
export function publicOrigin(): string {
  return configuredUrl()?.origin ?? `http://localhost:${devPort()}`;
}

/** An absolute URL of a path on the app (`/s/abc` → `https://host/s/abc`). */
export function absoluteUrl(path: string): string {
  return new URL(path, publicOrigin() + "/").toString();
}

/** The origins a mutation may come from. */
export function allowedOrigins(): Set<string> {
  const u = configuredUrl();
  if (u) return new Set([u.origin]);
  const port = devPort();
  return new Set([`http://localhost:${port}`, `http://127.0.0.1:${port}`, `http://[::1]:${port}`]);
}

/** Why a state-changing request is refused as cross-origin, or null when it may proceed. */
export function crossOriginReason(headers: Headers): string | null {
  const site = headers.get("sec-fetch-site");
  if (site != null && site !== "same-origin" && site !== "none")
    return `a ${site} request may not change anything here (Sec-Fetch-Site)`;
  const origin = headers.get("origin");
  if (origin != null && !allowedOrigins().has(origin))
    return `requests from ${origin.slice(0, 200)} may not change anything here; the app's origin is ${publicOrigin()} (NEURFLOW_PUBLIC_URL)`;
  return null;
}
