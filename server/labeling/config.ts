/**
 * Where the multimodal LLM lives. Read from the environment of the process that uses it (the web
 * app only asks whether an endpoint is configured; the worker makes the calls):
 *   OPENAI_API_KEY        key sent as a bearer token (a local server usually ignores it)
 *   OPENAI_BASE_URL       an OpenAI-compatible endpoint (default: OpenAI's, when a key is set)
 *   NEURFLOW_LABEL_MODEL  model name (default gpt-4o-mini)
 * and the limits of a label job (all optional; see docs/labeling.md).
 * Labeling is "configured" when a key or a base URL is set; otherwise nothing calls out.
 */
import { z } from "zod";

export const DEFAULT_LABEL_MODEL = "gpt-4o-mini";

export interface LabelLimits {
  /** Calls in flight at once. */
  concurrency: number;
  /** Tries per item on 429/5xx/timeouts/connection errors (the first call included). */
  maxAttempts: number;
  /** Tries per item when the reply is malformed (not JSON, wrong shape). */
  maxMalformed: number;
  /** Per-call timeout (ms). */
  timeoutMs: number;
  /** First back-off (ms); doubles per retry, with jitter, capped at backoffMaxMs. */
  backoffMs: number;
  backoffMaxMs: number;
  /** Calls one label job may make in all (retries included). */
  maxCalls: number;
  /** Explained edges per parent group (its strongest child edges by |W|). */
  edgesPerParent: number;
  /** Concept patches shown per group (grid of up to this many). */
  patchesPerGroup: number;
}

export interface LabelConfig {
  configured: boolean;
  apiKey: string | null;
  baseURL: string | null;
  model: string;
  limits: LabelLimits;
}

const intFrom = (min: number, max: number, dflt: number) =>
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s == null || s.trim() === "") return dflt;
      const n = Number(s);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer in [${min}, ${max}]` });
        return z.NEVER;
      }
      return n;
    });

const envSchema = z.object({
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: z
    .string()
    .optional()
    .refine((s) => s == null || s.trim() === "" || /^https?:\/\/\S+$/.test(s.trim()), "must be an http(s) URL"),
  NEURFLOW_LABEL_MODEL: z.string().max(200).optional(),
  NEURFLOW_LABEL_CONCURRENCY: intFrom(1, 64, 4),
  NEURFLOW_LABEL_MAX_ATTEMPTS: intFrom(1, 10, 4),
  NEURFLOW_LABEL_MAX_MALFORMED: intFrom(1, 10, 2),
  NEURFLOW_LABEL_TIMEOUT_MS: intFrom(100, 600_000, 60_000),
  NEURFLOW_LABEL_BACKOFF_MS: intFrom(0, 60_000, 1000),
  NEURFLOW_LABEL_BACKOFF_MAX_MS: intFrom(0, 600_000, 30_000),
  NEURFLOW_LABEL_MAX_CALLS: intFrom(1, 100_000, 500),
  NEURFLOW_LABEL_EDGES_PER_PARENT: intFrom(0, 50, 3),
  NEURFLOW_LABEL_PATCHES: intFrom(1, 64, 16),
});

/** Reads the configuration; a malformed variable is a clear error naming it. */
export function labelConfig(env: Record<string, string | undefined> = process.env): LabelConfig {
  const r = envSchema.safeParse(env);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`labeling configuration: ${String(i.path[0])} ${i.message}`);
  }
  const e = r.data;
  const apiKey = e.OPENAI_API_KEY?.trim() || null;
  const baseURL = e.OPENAI_BASE_URL?.trim() || null;
  return {
    configured: apiKey != null || baseURL != null,
    apiKey,
    baseURL,
    model: e.NEURFLOW_LABEL_MODEL?.trim() || DEFAULT_LABEL_MODEL,
    limits: {
      concurrency: e.NEURFLOW_LABEL_CONCURRENCY,
      maxAttempts: e.NEURFLOW_LABEL_MAX_ATTEMPTS,
      maxMalformed: e.NEURFLOW_LABEL_MAX_MALFORMED,
      timeoutMs: e.NEURFLOW_LABEL_TIMEOUT_MS,
      backoffMs: e.NEURFLOW_LABEL_BACKOFF_MS,
      backoffMaxMs: e.NEURFLOW_LABEL_BACKOFF_MAX_MS,
      maxCalls: e.NEURFLOW_LABEL_MAX_CALLS,
      edgesPerParent: e.NEURFLOW_LABEL_EDGES_PER_PARENT,
      patchesPerGroup: e.NEURFLOW_LABEL_PATCHES,
    },
  };
}

/** What the web app may show about the endpoint (never the key). */
export function publicLabelConfig(env: Record<string, string | undefined> = process.env): {
  configured: boolean;
  model: string | null;
  endpoint: string | null;
  error: string | null;
} {
  try {
    const c = labelConfig(env);
    let endpoint: string | null = null;
    if (c.baseURL) {
      try {
        endpoint = new URL(c.baseURL).host;
      } catch {
        endpoint = null;
      }
    } else if (c.apiKey) endpoint = "api.openai.com";
    return { configured: c.configured, model: c.configured ? c.model : null, endpoint, error: null };
  } catch (e) {
    return { configured: false, model: null, endpoint: null, error: (e as Error).message };
  }
}
