"use client";
/** Pieces shared by the evaluations page's sections: types, a section frame, a result picker. */
import type { inferRouterOutputs } from "@trpc/server";
import { useState, type ReactNode } from "react";
import type { AppRouter } from "~/server/api/root";
import type { EvaluationKindName } from "~/lib/evaluations/params";
import { inputClass, when } from "../ui";

export type EvaluationList = inferRouterOutputs<AppRouter>["evaluations"]["list"];
export type StoredResult = EvaluationList["results"][number];
export type EvaluationJob = EvaluationList["jobs"][number];

export interface EvaluationsPageData {
  circuit: {
    id: number;
    className: string;
    classIndex: number;
    tau: number;
    patchCount: number;
    imageCount: number;
    hasImages: boolean;
    inputSize: number;
    classes: string[];
  };
  layers: {
    index: number;
    upper: string;
    lower: string;
    groups: { rowId: number; groupId: number; label: string | null; neurons: number }[];
  }[];
  datasets: { id: number; name: string }[];
  canStart: boolean;
}

export const live = (j: { status: string }) => j.status === "queued" || j.status === "running";

/** "10, 30 50" → [10, 30, 50]; null when a value is not a number. */
export function parseNumbers(text: string): number[] | null {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  const out = parts.map(Number);
  return out.every((v) => Number.isFinite(v)) ? out : null;
}

/** How a result's parameters read in its header (the forms' words, not the request's keys). */
const PARAM_NAMES: Record<string, string> = {
  pairs: "layer pairs",
  taus: "τ",
  targets: "targets",
  randomSets: "random sets",
  k: "k",
  seed: "seed",
  modes: "modes",
  scopes: "scopes",
  baseline: "baseline",
  draws: "draws",
  setSizes: "set sizes",
  layerIndex: "layer pair",
  topCrops: "top crops",
  threshold: "threshold",
  groups: "groups",
  topPatches: "top patches",
};

/**
 * A stored result's parameters in one line. With the circuit's layer pairs, pair indices read as
 * their layers ("layer4.1 ← layer4.0") and groups as "all core neurons" or "groups 0, 3".
 */
export function paramsSummary(
  kind: string,
  p: Record<string, unknown>,
  layers?: readonly { upper: string; lower: string }[],
): string {
  const pair = (i: unknown) =>
    layers && typeof i === "number" && layers[i] ? `${layers[i]!.upper} ← ${layers[i]!.lower}` : String(i);
  const value = (k: string, v: unknown) => {
    if (k === "layerIndex") return pair(v);
    if (k === "pairs" && Array.isArray(v)) return v.map(pair).join(", ");
    if (k === "groups") return v === "core" ? "all core neurons" : Array.isArray(v) ? v.join(", ") : String(v);
    return Array.isArray(v) ? v.join("/") : typeof v === "object" ? JSON.stringify(v) : String(v);
  };
  const show = (k: string) => (p[k] == null ? null : `${PARAM_NAMES[k] ?? k} ${value(k, p[k])}`);
  const keys: Record<string, string[]> = {
    optimality: ["pairs", "taus", "targets", "randomSets", "k", "seed"],
    fidelityOfNeurons: ["taus", "modes", "scopes", "baseline", "draws", "seed"],
    fidelityOfWeights: ["pairs", "targets", "setSizes", "randomSets", "k", "seed"],
    faithfulness: ["draws", "seed"],
    imageDebug: ["layerIndex", "topCrops", "threshold"],
    groupMasking: ["layerIndex", "groups", "draws", "topPatches"],
  };
  const parts = (keys[kind] ?? []).map(show).filter(Boolean);
  if (kind === "faithfulness" && Array.isArray(p.thresholds)) parts.unshift(`${p.thresholds.length} thresholds`);
  return parts.join(" · ");
}

export function Section({
  id,
  title,
  children,
  description,
}: {
  id: string;
  title: string;
  children: ReactNode;
  description: ReactNode;
}) {
  return (
    <section
      id={id}
      className="rounded-lg border border-zinc-200 bg-white p-4 shadow-sm dark:border-zinc-800 dark:bg-zinc-900"
      data-testid={`section-${id}`}
    >
      <h2 className="text-base font-semibold">{title}</h2>
      <p className="mb-3 mt-1 text-sm text-zinc-500 dark:text-zinc-400">{description}</p>
      <div className="flex flex-col gap-3">{children}</div>
    </section>
  );
}

/** Picks one of a kind's stored results (newest first) and renders it. */
export function ResultPicker({
  kind,
  results,
  render,
  layers,
}: {
  kind: EvaluationKindName;
  results: StoredResult[];
  render: (r: StoredResult) => ReactNode;
  /** The circuit's layer pairs, so the header names them. */
  layers?: readonly { upper: string; lower: string }[];
}) {
  const [picked, setPicked] = useState<number | null>(null);
  const current = results.find((r) => r.id === picked) ?? results[0];
  if (!current)
    return (
      <p className="text-sm text-zinc-500" data-testid={`no-results-${kind}`}>
        No results yet.
      </p>
    );
  return (
    <div className="flex flex-col gap-2" data-testid={`result-${kind}`} data-result-id={current.id}>
      <div className="flex flex-wrap items-center gap-2 text-xs text-zinc-500">
        {results.length > 1 ? (
          <select
            className={`${inputClass} max-w-full`}
            value={current.id}
            onChange={(e) => setPicked(Number(e.target.value))}
            aria-label="result"
          >
            {results.map((r) => (
              <option key={r.id} value={r.id}>
                #{r.id} · {when(r.createdAt)} · {paramsSummary(kind, r.params, layers)}
              </option>
            ))}
          </select>
        ) : (
          <span>
            #{current.id} · {paramsSummary(kind, current.params, layers)}
          </span>
        )}
        <span>
          {current.createdBy ?? "—"} · {when(current.createdAt)}
          {current.seconds != null && ` · ${current.seconds.toFixed(1)} s`}
        </span>
      </div>
      {render(current)}
    </div>
  );
}
