/**
 * Where sign-in returns to: `/signin?next=<path and query>`. Only a path of this site is accepted,
 * so the parameter cannot send a user elsewhere (an open redirect). Pure; no Node or browser APIs
 * beyond `URL`.
 */

/** Request header set by `proxy.ts`: the path and query of the page being rendered. */
export const REQUEST_PATH_HEADER = "x-neurflow-path";

const MAX_LENGTH = 2048;
const BASE = "http://neurflow.invalid";

/**
 * `raw` as a same-site path and query (normalised, without a fragment), or null when it is
 * anything else: not a string, not starting with a single "/" ("//host" and "/\host" are other
 * sites to a browser), a scheme, control characters or backslashes (browsers drop or rewrite
 * them), or the sign-in page itself (a loop).
 */
export function safeNextPath(raw: unknown): string | null {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > MAX_LENGTH) return null;
  if (raw[0] !== "/" || raw[1] === "/" || raw[1] === "\\") return null;
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return null;
  let u: URL;
  try {
    u = new URL(raw, BASE);
  } catch {
    return null;
  }
  if (u.origin !== BASE) return null;
  const path = u.pathname + u.search;
  // normalising dot segments can make "//" ("/.//evil.example" is "//evil.example")
  if (!path.startsWith("/") || path.startsWith("//")) return null;
  if (u.pathname.replace(/\/+$/, "") === "/signin") return null;
  return path;
}

/** The sign-in page, returning to `next` afterwards when that is a safe path other than "/". */
export function signInHref(next: unknown): string {
  const safe = safeNextPath(next);
  return safe && safe !== "/" ? `/signin?next=${encodeURIComponent(safe)}` : "/signin";
}
