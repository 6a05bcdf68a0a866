/**
 * The multimodal LLM behind an OpenAI-compatible chat-completions endpoint (OpenAI, or a local
 * server), through the `openai` client. One `ask` = one item (a label or an explanation): it
 * sends the prompt with its images and a strict JSON schema, validates the reply with zod, and
 * retries — with exponential back-off (honouring Retry-After) on 429/5xx, timeouts and connection
 * errors, and at once on a malformed reply — within the item's tries and the job's call budget.
 * It never throws for a bad reply: the result says ok or why not. Only an abort throws.
 */
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from "openai";
import { z } from "zod";
import type { LabelConfig, LabelLimits } from "./config";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export type AskResult<T> =
  | { ok: true; value: T; usage: Usage; calls: number }
  | { ok: false; error: string; usage: Usage; calls: number; budgetExhausted?: boolean };

export interface AskRequest<T> {
  promptVersion: string;
  system: string;
  user: string;
  /** PNG images, attached in order after the text. */
  images: Buffer[];
  schemaName: string;
  jsonSchema: Record<string, unknown>;
  parse: z.ZodType<T>;
}

/** The job's cap on calls (retries included), shared by every concurrent item. */
export class CallBudget {
  used = 0;
  constructor(readonly max: number) {}
  take(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }
  get exhausted(): boolean {
    return this.used >= this.max;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted)
      return reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? "aborted")));
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason ?? "aborted")));
    };
    const t = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The parts of a chat completion we read, validated (a compatible server may answer anything). */
const completionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullish(), refusal: z.string().nullish() }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: z
    .object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() })
    .nullish(),
});

type Outcome<T> =
  | { kind: "ok"; value: T }
  | { kind: "malformed"; error: string }
  | { kind: "retryable"; error: string; retryAfterMs: number | null }
  | { kind: "fatal"; error: string };

function retryAfter(headers: Headers | undefined): number | null {
  const ms = headers?.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const s = headers?.get("retry-after");
  if (!s) return null;
  if (Number.isFinite(Number(s))) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null;
}

export class LabelClient {
  readonly model: string;
  private readonly openai: OpenAI;
  readonly limits: LabelLimits;

  constructor(cfg: LabelConfig) {
    if (!cfg.configured) throw new Error("no MLLM endpoint is configured (set OPENAI_BASE_URL and/or OPENAI_API_KEY)");
    this.model = cfg.model;
    this.limits = cfg.limits;
    this.openai = new OpenAI({
      // a local server usually wants no key; the client insists on one
      apiKey: cfg.apiKey ?? "unset",
      baseURL: cfg.baseURL ?? "https://api.openai.com/v1",
      maxRetries: 0, // retries are ours: counted against the job's budget, logged, abortable
      timeout: cfg.limits.timeoutMs,
    });
  }

  private async once<T>(req: AskRequest<T>, signal: AbortSignal | undefined, usage: Usage): Promise<Outcome<T>> {
    let raw: unknown;
    try {
      raw = await this.openai.chat.completions.create(
        {
          model: this.model,
          messages: [
            { role: "system", content: req.system },
            {
              role: "user",
              content: [
                { type: "text", text: req.user },
                ...req.images.map((png) => ({
                  type: "image_url" as const,
                  image_url: { url: `data:image/png;base64,${png.toString("base64")}` },
                })),
              ],
            },
          ],
          response_format: {
            type: "json_schema",
            json_schema: { name: req.schemaName, strict: true, schema: req.jsonSchema },
          },
        },
        {
          signal,
          timeout: this.limits.timeoutMs,
          maxRetries: 0,
          headers: { "X-NeurFlow-Prompt-Version": req.promptVersion },
        },
      );
    } catch (e) {
      if (signal?.aborted || e instanceof APIUserAbortError)
        throw signal?.reason instanceof Error ? signal.reason : new Error("aborted");
      if (e instanceof APIConnectionError)
        return { kind: "retryable", error: e.message || "connection error", retryAfterMs: null };
      if (e instanceof APIError && typeof e.status === "number") {
        const s = e.status;
        const msg = `HTTP ${s}${e.message ? `: ${e.message.slice(0, 200)}` : ""}`;
        if (s === 408 || s === 409 || s === 429 || s >= 500)
          return { kind: "retryable", error: msg, retryAfterMs: retryAfter(e.headers) };
        return { kind: "fatal", error: msg };
      }
      // a 200 whose body is not JSON, and the like
      return { kind: "malformed", error: `unreadable response: ${(e as Error).message?.slice(0, 200) ?? String(e)}` };
    }
    const c = completionSchema.safeParse(raw);
    if (!c.success)
      return { kind: "malformed", error: `not a chat completion: ${c.error.issues[0]?.message ?? "bad shape"}` };
    if (c.data.usage) {
      usage.promptTokens += c.data.usage.prompt_tokens;
      usage.completionTokens += c.data.usage.completion_tokens;
    }
    const choice = c.data.choices[0]!;
    if (choice.message.refusal)
      return { kind: "malformed", error: `the model refused: ${choice.message.refusal.slice(0, 200)}` };
    if (choice.finish_reason === "length")
      return { kind: "malformed", error: "the reply was cut off (finish_reason length)" };
    const content = choice.message.content;
    if (!content) return { kind: "malformed", error: "the reply is empty" };
    let json: unknown;
    try {
      json = JSON.parse(content);
    } catch {
      return { kind: "malformed", error: `the reply is not JSON: ${JSON.stringify(content.slice(0, 80))}` };
    }
    const v = req.parse.safeParse(json);
    if (!v.success) {
      const i = v.error.issues[0];
      return {
        kind: "malformed",
        error: `the reply does not match the schema: ${i ? `${i.path.join(".") || "(root)"} ${i.message}` : "invalid"}`,
      };
    }
    return { kind: "ok", value: v.data };
  }

  /** Asks until a valid reply, a fatal error, the item's tries or the job's budget run out. */
  async ask<T>(
    req: AskRequest<T>,
    budget: CallBudget,
    signal?: AbortSignal,
    onRetry?: (why: string, waitMs: number) => void,
  ): Promise<AskResult<T>> {
    const usage: Usage = { promptTokens: 0, completionTokens: 0 };
    let calls = 0;
    let transient = 0;
    let malformed = 0;
    let lastError = "";
    for (;;) {
      if (!budget.take()) {
        return {
          ok: false,
          error: `call cap of ${budget.max} per job reached${lastError ? ` (last error: ${lastError})` : ""}`,
          usage,
          calls,
          budgetExhausted: true,
        };
      }
      calls++;
      const r = await this.once(req, signal, usage);
      if (r.kind === "ok") return { ok: true, value: r.value, usage, calls };
      lastError = r.error;
      if (r.kind === "fatal") return { ok: false, error: r.error, usage, calls };
      if (r.kind === "malformed") {
        if (++malformed >= this.limits.maxMalformed)
          return { ok: false, error: `malformed reply after ${malformed} tries: ${r.error}`, usage, calls };
        onRetry?.(r.error, 0);
        continue;
      }
      if (++transient >= this.limits.maxAttempts)
        return { ok: false, error: `gave up after ${transient} tries: ${r.error}`, usage, calls };
      const backoff = Math.min(this.limits.backoffMaxMs, this.limits.backoffMs * 2 ** (transient - 1));
      const jittered = backoff * (0.75 + Math.random() * 0.5);
      const wait = Math.min(this.limits.backoffMaxMs, Math.max(jittered, r.retryAfterMs ?? 0));
      onRetry?.(r.error, wait);
      await sleep(wait, signal);
    }
  }
}
