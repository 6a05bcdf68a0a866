/**
 * Versioned prompt files (server/labeling/prompts/*.md). A prompt's version id is its file name
 * without ".md"; every model revision records it. A released prompt is never edited: a change is a
 * new file (label-v2.md) and a new constant here.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const LABEL_PROMPT = "label-v1";
export const EXPLAIN_PROMPT = "explain-v1";

export interface Prompt {
  version: string;
  system: string;
  user: string;
}

export function promptsDir(): string {
  return resolve(
    /* turbopackIgnore: true */ process.env.NEURFLOW_PROMPTS ?? join(process.cwd(), "server", "labeling", "prompts"),
  );
}

const cache = new Map<string, Prompt>();

/** Reads `<version>.md`: an optional leading HTML comment, then "## system" and "## user" sections. */
export function loadPrompt(version: string): Prompt {
  const hit = cache.get(version);
  if (hit) return hit;
  if (!/^[a-z0-9-]+$/.test(version)) throw new Error(`bad prompt version "${version}"`);
  const raw = readFileSync(join(promptsDir(), `${version}.md`), "utf8").replace(/<!--[\s\S]*?-->/g, "");
  const m = /^\s*## system\s*\n([\s\S]*?)\n## user\s*\n([\s\S]*)$/.exec(raw);
  if (!m) throw new Error(`prompt ${version}.md must have a "## system" and a "## user" section`);
  const p: Prompt = { version, system: m[1]!.trim(), user: m[2]!.trim() };
  cache.set(version, p);
  return p;
}

/** Fills {{name}} placeholders; an unknown placeholder is an error (a prompt/code mismatch). */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    const v = values[k];
    if (v === undefined) throw new Error(`prompt placeholder {{${k}}} has no value`);
    return String(v);
  });
}
