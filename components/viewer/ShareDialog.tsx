"use client";
/** Create a share link with the current view state; list and revoke the circuit's links. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import type { ViewState } from "~/lib/circuits/viewTypes";
import { useTRPC } from "~/trpc/react";
import { buttonClass, ErrorBox, inputClass, when } from "../ui";

export function ShareDialog({
  circuitId,
  viewState,
  onChange,
}: {
  circuitId: number;
  viewState: () => ViewState;
  onChange?: () => void;
}) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [days, setDays] = useState<string>("30");
  const [url, setUrl] = useState<string | null>(null);
  const [copied, setCopied] = useState<"yes" | "select" | null>(null);
  const urlInput = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url!);
      setCopied("yes");
    } catch {
      // no clipboard here (plain http off localhost, or refused): select the link for the user to copy
      urlInput.current?.select();
      setCopied("select");
    }
  };
  const list = useQuery(trpc.shareLinks.list.queryOptions({ circuitId }));
  const invalidate = () => qc.invalidateQueries({ queryKey: trpc.shareLinks.list.queryKey({ circuitId }) });
  const create = useMutation(
    trpc.shareLinks.create.mutationOptions({
      onSuccess: (r) => {
        setUrl(r.url);
        setCopied(null);
        void invalidate();
        onChange?.();
      },
    }),
  );
  const revoke = useMutation(trpc.shareLinks.revoke.mutationOptions({ onSuccess: () => void invalidate() }));
  return (
    <section
      className="rounded-lg border border-zinc-200 bg-white p-3 text-sm dark:border-zinc-800 dark:bg-zinc-900"
      id="share-dialog"
      aria-label="Share links"
      data-testid="share-dialog"
    >
      <div className="flex flex-wrap items-center gap-2">
        <span>Read-only link to this view (selected node, threshold, zoom, pan), expires</span>
        <select className={inputClass} value={days} onChange={(e) => setDays(e.target.value)} aria-label="Expiry">
          <option value="1">in 1 day</option>
          <option value="7">in 7 days</option>
          <option value="30">in 30 days</option>
          <option value="365">in a year</option>
          <option value="never">never</option>
        </select>
        <button
          className={buttonClass}
          data-testid="share-create"
          disabled={create.isPending}
          onClick={() =>
            create.mutate({ circuitId, viewState: viewState(), expiresInDays: days === "never" ? null : Number(days) })
          }
        >
          Create link
        </button>
      </div>
      {create.error && <ErrorBox>{create.error.message}</ErrorBox>}
      {revoke.error && <ErrorBox>{revoke.error.message}</ErrorBox>}
      {url && (
        <p className="mt-2 flex items-center gap-2">
          <input
            ref={urlInput}
            className={`${inputClass} flex-1`}
            readOnly
            value={url}
            aria-label="Share link"
            data-testid="share-url"
            onFocus={(e) => e.target.select()}
          />
          <button className="hover:underline" onClick={() => void copy()} data-testid="share-copy">
            Copy
          </button>
          {copied && (
            <span className="text-xs text-zinc-500" role="status" data-testid="share-copied">
              {copied === "yes" ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy."}
            </span>
          )}
        </p>
      )}
      <p className="mt-1 text-xs text-zinc-500">
        The link is shown once; anyone holding it sees this circuit only, and can change nothing.
      </p>
      {list.data && list.data.length > 0 && (
        <ul className="mt-2 flex flex-col gap-1" data-testid="share-links">
          {list.data.map((l) => (
            <li key={l.id} className="flex items-center gap-2">
              <span className="text-zinc-500">#{l.id}</span>
              <span>{l.status}</span>
              <span className="text-zinc-500">
                by {l.creator ?? "—"} · {when(l.createdAt)} · expires {l.expiresAt ? when(l.expiresAt) : "never"}
              </span>
              {l.canRevoke && (
                <button
                  className="text-red-700 hover:underline dark:text-red-400"
                  data-testid="share-revoke"
                  onClick={() =>
                    window.confirm(
                      `Revoke share link #${l.id}? Whoever holds it loses access at once; this cannot be undone.`,
                    ) && revoke.mutate({ id: l.id })
                  }
                >
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
