"use client";
/**
 * The label (or explanation) of one target: current text with its review state and provenance,
 * an editor for annotators with optimistic versioning, review buttons, and the history.
 *
 * The version an edit is based on is fixed when editing starts (not the latest fetched one), so
 * a save after someone else's save is refused by the server and the newer text is shown here;
 * the draft is kept, and the annotator may save it on top of the newer version.
 * Everything written by a model or an annotator is rendered as React text, never as HTML.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import { useState, type ReactNode } from "react";
import { buttonClass, ErrorBox, inputClass } from "~/components/ui";
import { useTRPC } from "~/trpc/react";
import { provenance, RevisionHistory } from "./RevisionHistory";
import type { LabelTargetInput, LabelView } from "./types";

const REVIEW_STYLE: Record<string, string> = {
  unreviewed: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  reviewed: "bg-green-100 text-green-800 dark:bg-green-900 dark:text-green-100",
  disputed: "bg-amber-100 text-amber-800 dark:bg-amber-900 dark:text-amber-100",
};

export function ReviewBadge({ review }: { review: string }) {
  return (
    <span
      className={`rounded px-1.5 py-0.5 text-xs font-medium ${REVIEW_STYLE[review] ?? REVIEW_STYLE.unreviewed}`}
      data-testid="label-review"
    >
      {review}
    </span>
  );
}

interface Conflict {
  message: string;
  newer: LabelView["head"];
  /** What the refused request was: an edit keeps its draft; a review or revert was a click on an old version. */
  action: "edit" | "review" | "revert";
}

export function LabelEditor({
  circuitId,
  target,
  withDescription,
  emptyText,
  renderEvidence,
  fallbackText,
}: {
  circuitId: number;
  target: LabelTargetInput;
  withDescription: boolean;
  emptyText: string;
  /** Optional: how the host shows evidence patches (thumbnails); default is a count. */
  renderEvidence?: (patches: number[]) => ReactNode;
  fallbackText?: string | null;
}) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const input = { circuitId, target };
  const q = useQuery(
    trpc.labels.get.queryOptions(input, {
      retry: (n, e) =>
        n < 2 &&
        !(
          e instanceof TRPCClientError &&
          ["UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND"].includes((e.data as { code?: string } | undefined)?.code ?? "")
        ),
    }),
  );
  const [editing, setEditing] = useState(false);
  const [base, setBase] = useState(0);
  const [text, setText] = useState("");
  const [description, setDescription] = useState("");
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [showHistory, setShowHistory] = useState(false);

  const refresh = async () => {
    await qc.invalidateQueries({ queryKey: trpc.labels.get.queryKey(input) });
    await qc.invalidateQueries({ queryKey: trpc.labels.forCircuit.queryKey({ circuitId }) });
    await qc.invalidateQueries({ queryKey: trpc.labels.overview.queryKey({ circuitId }) });
  };
  const onConflict = async (e: unknown, action: Conflict["action"] = "edit") => {
    if (e instanceof TRPCClientError && (e.data as { code?: string } | undefined)?.code === "CONFLICT") {
      await refresh();
      const fresh = await qc.fetchQuery(trpc.labels.get.queryOptions(input, { staleTime: 0 }));
      setConflict({ message: e.message, newer: fresh.head, action });
      return true;
    }
    return false;
  };
  const save = useMutation(
    trpc.labels.save.mutationOptions({
      onSuccess: async () => {
        setEditing(false);
        setConflict(null);
        await refresh();
      },
      onError: (e) => void onConflict(e),
    }),
  );
  const revert = useMutation(
    trpc.labels.revert.mutationOptions({
      onSuccess: () => void refresh(),
      onError: (e) => void onConflict(e, "revert"),
    }),
  );
  const review = useMutation(
    trpc.labels.review.mutationOptions({
      onSuccess: () => void refresh(),
      onError: (e) => void onConflict(e, "review"),
    }),
  );

  if (q.isPending) return <p className="text-sm text-zinc-500">Loading…</p>;
  if (q.error) {
    const code = q.error instanceof TRPCClientError ? (q.error.data as { code?: string } | undefined)?.code : undefined;
    if (code === "UNAUTHORIZED")
      return fallbackText ? (
        <p className="whitespace-pre-wrap font-medium" data-testid="label-text">
          {fallbackText}
        </p>
      ) : (
        <p className="text-sm text-zinc-500">{emptyText}</p>
      );
    return <ErrorBox>{q.error.message}</ErrorBox>;
  }
  const v = q.data;
  const head = v.head;
  const current = v.revisions.at(-1);
  const mutationError = [save.error, revert.error, review.error].find(
    (e) => e && !(e instanceof TRPCClientError && (e.data as { code?: string } | undefined)?.code === "CONFLICT"),
  );

  const startEdit = () => {
    setBase(head?.version ?? 0);
    setText(head?.text ?? "");
    setDescription(head?.description ?? "");
    setConflict(null);
    setEditing(true);
  };

  return (
    <div className="flex flex-col gap-2" data-testid="label-panel" data-version={head?.version ?? 0}>
      {head ? (
        <div>
          <div className="flex flex-wrap items-center gap-2">
            <span className={withDescription ? "text-base font-semibold" : "text-sm"}>
              <span className="whitespace-pre-wrap break-words" data-testid="label-text">
                {head.text}
              </span>
            </span>
            <ReviewBadge review={head.review} />
            <span className="text-xs text-zinc-500">v{head.version}</span>
          </div>
          {withDescription && head.description && (
            <p
              className="mt-0.5 whitespace-pre-wrap text-sm text-zinc-600 dark:text-zinc-400"
              data-testid="label-description"
            >
              {head.description}
            </p>
          )}
          {current && (
            <p className="mt-0.5 text-xs text-zinc-500" data-testid="label-provenance">
              {provenance(current)}
            </p>
          )}
          {renderEvidence && current?.evidence && current.evidence.length > 0 && (
            <div className="mt-1">{renderEvidence(current.evidence)}</div>
          )}
        </div>
      ) : (
        <p className="text-sm text-zinc-500" data-testid="label-empty">
          {emptyText}
        </p>
      )}

      {conflict && (
        <div
          role="alert"
          className="rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100"
          data-testid="label-conflict"
        >
          <p className="font-medium">
            {conflict.action === "edit"
              ? "Not saved"
              : conflict.action === "review"
                ? "Review not recorded"
                : "Not reverted"}
            : someone saved a newer version
            {conflict.newer ? ` (v${conflict.newer.version})` : ""}{" "}
            {conflict.action === "edit" ? "while you were editing" : "since this page loaded it; look at it first"}.
          </p>
          {conflict.newer && (
            <p className="mt-1">
              Their text:{" "}
              <q className="whitespace-pre-wrap" data-testid="label-conflict-text">
                {conflict.newer.text}
              </q>
            </p>
          )}
          {editing && conflict.newer && (
            <button
              type="button"
              className="mt-1 underline"
              onClick={() => {
                setBase(conflict.newer!.version);
                setConflict(null);
              }}
              data-testid="label-conflict-rebase"
            >
              Keep my draft and edit on top of v{conflict.newer.version}
            </button>
          )}
        </div>
      )}

      {v.canEdit && editing && (
        <form
          className="flex flex-col gap-2"
          onKeyDown={(e) => {
            // Esc cancels the edit (and stays here: the viewer's Esc would close the whole panel)
            if (e.key === "Escape") {
              e.stopPropagation();
              e.nativeEvent.stopImmediatePropagation();
              setEditing(false);
            }
          }}
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate({
              circuitId,
              target,
              expectedVersion: base,
              text,
              description: withDescription ? description : null,
            });
          }}
        >
          {withDescription ? (
            <input
              className={inputClass}
              value={text}
              onChange={(e) => setText(e.target.value)}
              maxLength={200}
              aria-label="Label"
              data-testid="label-input"
            />
          ) : (
            <textarea
              className={inputClass}
              value={text}
              onChange={(e) => setText(e.target.value)}
              rows={5}
              aria-label="Explanation"
              data-testid="label-input"
            />
          )}
          {withDescription && (
            <textarea
              className={inputClass}
              value={description}
              onChange={(e) => setDescription(e.target.value)}
              rows={2}
              aria-label="Description"
              placeholder="One sentence describing the concept"
              data-testid="label-description-input"
            />
          )}
          <div className="flex gap-2">
            <button className={buttonClass} type="submit" disabled={save.isPending} data-testid="label-save">
              {save.isPending ? "Saving…" : `Save (on v${base})`}
            </button>
            <button
              type="button"
              className="text-sm text-zinc-600 hover:underline dark:text-zinc-400"
              onClick={() => setEditing(false)}
            >
              Cancel
            </button>
          </div>
        </form>
      )}

      {v.canEdit && !editing && (
        <div className="flex flex-wrap gap-2 text-sm">
          <button
            type="button"
            className="rounded border border-zinc-300 px-2 py-0.5 hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
            onClick={startEdit}
            data-testid="label-edit"
          >
            {head ? "Edit" : "Write one"}
          </button>
          {head &&
            (["reviewed", "disputed", "unreviewed"] as const)
              .filter((r) => r !== head.review)
              .map((r) => (
                <button
                  key={r}
                  type="button"
                  className="rounded border border-zinc-300 px-2 py-0.5 hover:bg-zinc-100 disabled:opacity-50 dark:border-zinc-700 dark:hover:bg-zinc-800"
                  disabled={review.isPending}
                  onClick={() => review.mutate({ circuitId, target, expectedVersion: head.version, review: r })}
                  data-testid={`label-mark-${r}`}
                >
                  {r === "reviewed" ? "Mark reviewed" : r === "disputed" ? "Mark disputed" : "Clear review"}
                </button>
              ))}
        </div>
      )}
      {!v.canEdit && (
        <p className="text-xs text-zinc-500" data-testid="label-readonly">
          Read only: editing needs the annotator role.
        </p>
      )}
      {mutationError && <ErrorBox>{mutationError.message}</ErrorBox>}

      {v.revisions.length > 0 && (
        <div>
          <button
            type="button"
            className="text-xs text-blue-700 hover:underline dark:text-blue-400"
            onClick={() => setShowHistory((s) => !s)}
            data-testid="label-history-toggle"
          >
            {showHistory ? "Hide" : "Show"} history ({v.revisions.length})
          </button>
          {showHistory && (
            <div className="mt-2">
              <RevisionHistory
                revisions={v.revisions}
                currentVersion={head?.version ?? 0}
                canEdit={v.canEdit}
                reverting={revert.isPending}
                withDescription={withDescription}
                onRevert={(toVersion) =>
                  head && revert.mutate({ circuitId, target, toVersion, expectedVersion: head.version })
                }
              />
            </div>
          )}
        </div>
      )}
    </div>
  );
}
