/**
 * The request-size limit of the API route: a request whose Content-Length exceeds the limit is
 * refused before anything is read; a body sent without a length (chunked) is read up to the limit
 * and refused as soon as it passes it, so no upload reaches a procedure unmeasured.
 */
import "server-only";

function tooLarge(bytes: number | null, limit: number): Response {
  const size = bytes == null ? `more than ${limit} bytes` : `${bytes} bytes`;
  return Response.json({ error: `the request has ${size}; at most ${limit} are accepted` }, { status: 413 });
}

/** The request to hand on (its body read and measured where it had no length), or a 413 response. */
export async function limitRequest(req: Request, limit: number): Promise<Request | Response> {
  const declared = req.headers.get("content-length");
  if (declared != null) {
    const length = Number(declared);
    if (!Number.isFinite(length) || length < 0)
      return Response.json({ error: `Content-Length "${declared}" is not a byte count` }, { status: 400 });
    return length > limit ? tooLarge(length, limit) : req;
  }
  if (!req.body) return req;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return tooLarge(null, limit);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return new Request(req.url, { method: req.method, headers: req.headers, body, signal: req.signal });
}
