"use client";
/** The history of a label or explanation, newest first: provenance, a word diff against the previous revision, revert. */
import { when } from "~/components/ui";
import { diffWords } from "./diff";
import type { LabelRevision } from "./types";

export function provenance(r: LabelRevision): string {
  if (r.source === "model") {
    const tokens =
      r.promptTokens != null || r.completionTokens != null
        ? ` · ${(r.promptTokens ?? 0) + (r.completionTokens ?? 0)} tokens`
        : "";
    return `model ${r.modelName ?? "?"} · prompt ${r.promptVersion ?? "?"}${tokens}`;
  }
  if (r.source === "revert")
    return `${r.author ?? "a deleted user"} reverted${r.revertedTo != null ? ` to v${r.revertedTo}` : ""}`;
  return `annotator ${r.author ?? "(deleted user)"}`;
}

function Diff({ before, after }: { before: string; after: string }) {
  return (
    <span className="whitespace-pre-wrap break-words">
      {diffWords(before, after).map((p, i) =>
        p.op === "same" ? (
          <span key={i}>{p.text}</span>
        ) : p.op === "add" ? (
          <ins key={i} className="bg-green-100 text-green-900 no-underline dark:bg-green-900 dark:text-green-100">
            {p.text}
          </ins>
        ) : (
          <del key={i} className="mr-0.5 bg-red-100 text-red-900 dark:bg-red-950 dark:text-red-200">
            {p.text}
          </del>
        ),
      )}
    </span>
  );
}

export function RevisionHistory({
  revisions,
  currentVersion,
  canEdit,
  onRevert,
  reverting,
  withDescription,
}: {
  revisions: LabelRevision[];
  currentVersion: number;
  canEdit: boolean;
  onRevert: (version: number) => void;
  reverting: boolean;
  withDescription: boolean;
}) {
  if (revisions.length === 0) return <p className="text-sm text-zinc-500">No revisions yet.</p>;
  const ordered = [...revisions].reverse();
  return (
    <ol className="flex flex-col gap-2" data-testid="label-history">
      {ordered.map((r) => {
        const prev = revisions.find((x) => x.version === r.version - 1);
        return (
          <li
            key={r.version}
            className="rounded border border-zinc-200 p-2 text-sm dark:border-zinc-800"
            data-testid={`revision-${r.version}`}
            data-source={r.source}
          >
            <div className="flex flex-wrap items-center gap-2 text-xs text-zinc-500">
              <span className="font-semibold text-zinc-700 dark:text-zinc-300">v{r.version}</span>
              <span data-testid="revision-provenance">{provenance(r)}</span>
              <span>· {when(r.createdAt)}</span>
              {r.evidence && r.evidence.length > 0 && (
                <span title={`patch indices: ${r.evidence.join(", ")}`}>
                  · evidence: {r.evidence.length} patch{r.evidence.length === 1 ? "" : "es"}
                </span>
              )}
              <span className="flex-1" />
              {r.version === currentVersion ? (
                <span className="rounded bg-zinc-100 px-1.5 dark:bg-zinc-800">current</span>
              ) : (
                canEdit && (
                  <button
                    type="button"
                    className="rounded border border-zinc-300 px-1.5 hover:bg-zinc-100 disabled:opacity-50 dark:border-zinc-700 dark:hover:bg-zinc-800"
                    disabled={reverting}
                    onClick={() => onRevert(r.version)}
                    data-testid={`revert-${r.version}`}
                  >
                    Revert to v{r.version}
                  </button>
                )
              )}
            </div>
            <div className="mt-1">
              {prev ? (
                <Diff before={prev.text} after={r.text} />
              ) : (
                <span className="whitespace-pre-wrap break-words">{r.text}</span>
              )}
            </div>
            {withDescription && (r.description || prev?.description) && (
              <div className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">
                {prev ? (
                  <Diff before={prev.description ?? ""} after={r.description ?? ""} />
                ) : (
                  <span className="whitespace-pre-wrap">{r.description}</span>
                )}
              </div>
            )}
          </li>
        );
      })}
    </ol>
  );
}
