/**
 * The structured replies the model must give, as zod schemas. The same schemas produce the JSON
 * schema sent as `response_format` (strict) and validate every reply: a reply that does not parse
 * is malformed, is retried, and is never stored.
 */
import { z } from "zod";

/** No control characters except newlines/tabs; trimmed; not empty. */
const cleanText = (max: number) =>
  z
    .string()
    .transform((s) => s.replace(/\r\n?/g, "\n").trim())
    .pipe(
      z
        .string()
        .min(1, "empty")
        .max(max, `longer than ${max} characters`)
        .refine((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s), "contains control characters"),
    );

export const labelReplySchema = z.strictObject({
  label: cleanText(80),
  description: cleanText(400),
});

export const explanationReplySchema = z.strictObject({
  steps: z.array(cleanText(500)).min(1).max(8),
  explanation: cleanText(800),
});
export type ExplanationReply = z.infer<typeof explanationReplySchema>;

/** The JSON schemas sent with the request (what the schemas accept, without the length rules a model cannot see). */
export const labelJsonSchema = {
  type: "object",
  properties: {
    label: { type: "string", description: "short noun phrase, at most 6 words" },
    description: { type: "string", description: "one sentence" },
  },
  required: ["label", "description"],
  additionalProperties: false,
} as const;

export const explanationJsonSchema = {
  type: "object",
  properties: {
    steps: { type: "array", items: { type: "string" }, description: "reasoning, one sentence per step" },
    explanation: { type: "string", description: "which visual features of the child make up the parent" },
  },
  required: ["steps", "explanation"],
  additionalProperties: false,
} as const;

/** The text stored for an explanation: the answer, then the reasoning steps (annotators edit both). */
export function explanationText(r: ExplanationReply): string {
  return `${r.explanation}\n\nReasoning:\n${r.steps.map((s, i) => `${i + 1}. ${s}`).join("\n")}`;
}

/** What annotators may write (the same cleanliness rules, longer limits). */
export const annotatorLabelText = cleanText(200);
export const annotatorDescription = z
  .string()
  .max(2000, "longer than 2000 characters")
  .nullish()
  .transform((s) => s?.replace(/\r\n?/g, "\n").trim() || null)
  .refine((s) => s == null || !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s), "contains control characters");
export const annotatorExplanationText = cleanText(8000);
