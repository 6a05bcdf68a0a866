/**
 * A local OpenAI-compatible chat-completions server for tests (node:http on 127.0.0.1, random
 * port; nothing leaves the machine). Every request is recorded (body, headers); the test decides
 * each answer with `respond`, which may return a good reply, malformed content, a delay, or an
 * HTTP error with headers.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  n: number;
  path: string;
  headers: IncomingMessage["headers"];
  body: {
    model?: string;
    messages?: { role: string; content: string | { type: string; text?: string; image_url?: { url: string } }[] }[];
    response_format?: {
      type: string;
      json_schema?: { name: string; strict?: boolean; schema: Record<string, unknown> };
    };
  };
  /** "label" / "explanation" from the schema name. */
  kind: "label" | "explanation" | "unknown";
  /** Text of the user message. */
  userText: string;
  images: string[];
}

export type FakeReply =
  | {
      content: string;
      delayMs?: number;
      usage?: { prompt_tokens: number; completion_tokens: number };
      finishReason?: string;
    }
  | { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number }
  | { raw: string; delayMs?: number };

export interface FakeOpenAI {
  url: string;
  requests: RecordedRequest[];
  respond: (req: RecordedRequest) => FakeReply;
  close(): Promise<void>;
}

export function goodLabel(label: string, description = `Patches showing ${label}.`): FakeReply {
  return { content: JSON.stringify({ label, description }), usage: { prompt_tokens: 120, completion_tokens: 20 } };
}

export function goodExplanation(explanation: string): FakeReply {
  return {
    content: JSON.stringify({
      steps: ["The child shows stripes.", "The parent shows a bee's body.", "The stripes make up the body."],
      explanation,
    }),
    usage: { prompt_tokens: 200, completion_tokens: 60 },
  };
}

export async function startFakeOpenAI(respond?: (req: RecordedRequest) => FakeReply): Promise<FakeOpenAI> {
  const fake: FakeOpenAI = {
    url: "",
    requests: [],
    respond:
      respond ??
      ((r) => (r.kind === "explanation" ? goodExplanation("stripes make the body") : goodLabel("yellow stripes"))),
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: RecordedRequest["body"] = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as RecordedRequest["body"];
      } catch {
        /* recorded as empty */
      }
      const user = body.messages?.find((m) => m.role === "user");
      const parts = Array.isArray(user?.content) ? user.content : [];
      const name = body.response_format?.json_schema?.name ?? "";
      const rec: RecordedRequest = {
        n: fake.requests.length,
        path: req.url ?? "",
        headers: req.headers,
        body,
        kind: name.includes("label") ? "label" : name.includes("explanation") ? "explanation" : "unknown",
        userText: parts
          .filter((p) => p.type === "text")
          .map((p) => p.text ?? "")
          .join("\n"),
        images: parts.filter((p) => p.type === "image_url").map((p) => p.image_url?.url ?? ""),
      };
      fake.requests.push(rec);
      const reply = fake.respond(rec);
      const send = () => {
        if (res.destroyed) return;
        if ("raw" in reply) {
          res.writeHead(200, { "content-type": "application/json" }).end(reply.raw);
        } else if ("status" in reply) {
          res
            .writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
            .end(
              JSON.stringify(reply.body ?? { error: { message: `fake error ${reply.status}`, type: "server_error" } }),
            );
        } else {
          res.writeHead(200, { "content-type": "application/json" }).end(
            JSON.stringify({
              id: `chatcmpl-${rec.n}`,
              object: "chat.completion",
              created: Math.floor(Date.now() / 1000),
              model: body.model ?? "fake",
              choices: [
                {
                  index: 0,
                  message: { role: "assistant", content: reply.content },
                  finish_reason: reply.finishReason ?? "stop",
                },
              ],
              usage: reply.usage
                ? { ...reply.usage, total_tokens: reply.usage.prompt_tokens + reply.usage.completion_tokens }
                : undefined,
            }),
          );
        }
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}
