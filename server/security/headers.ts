/**
 * The security headers of every response. Pages get a nonce-based Content-Security-Policy from
 * proxy.ts (`pageCsp`): scripts only with the request's nonce (Next.js puts it on its own scripts;
 * `'strict-dynamic'` lets them load the app's chunks), no plugins, no framing, no foreign
 * connections or form targets. Styles allow `'unsafe-inline'`: React renders `style` attributes
 * (progress bars, the viewer's panels) and a nonce cannot cover attributes; no script can run from
 * a style. Images allow `data:` and `blob:` (thumbnails, downloads drawn in the page); Cytoscape
 * draws on a canvas, plots are inline SVG, neither needs more.
 * API and file routes get a CSP that allows nothing (`API_CSP`), set in next.config.ts with the
 * headers every response carries (`COMMON_HEADERS`).
 */

export function pageCsp(nonce: string, dev = false): string {
  return [
    "default-src 'self'",
    // development only: React's dev build evaluates code for its error overlays
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${dev ? " ws: wss:" : ""}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** For JSON, images and downloads: nothing in them may run or be framed. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

export const COMMON_HEADERS: { key: string; value: string }[] = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "X-Frame-Options", value: "DENY" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
  { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=()" },
  { key: "Cross-Origin-Opener-Policy", value: "same-origin" },
];
