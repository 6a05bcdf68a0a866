"use client";
/**
 * Automatic labeling of a circuit: whether an MLLM endpoint is configured (said plainly when not),
 * a start button for annotators (optionally relabeling everything), the latest job's progress and
 * every item that failed.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import { buttonClass, ErrorBox, inputClass, StatusBadge } from "~/components/ui";
import { groupName } from "~/lib/circuits/describe";
import type { AppRouter } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";

type Overview = inferRouterOutputs<AppRouter>["labels"]["overview"];

export function LabelJobPanel({
  circuitId,
  config,
  canEdit,
  layerNames = [],
}: {
  circuitId: number;
  config: Overview["config"];
  canEdit: boolean;
  /** Layer name of each layer entry (top-down), to name failed groups and edges. */
  layerNames?: string[];
}) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [force, setForce] = useState(false);
  const [cap, setCap] = useState("");
  /** The job this page started, until the server reports it (a fetch may answer before the job is visible, or fail). */
  const [awaited, setAwaited] = useState<number | null>(null);
  const job = useQuery(
    trpc.labels.job.queryOptions(
      { circuitId },
      {
        // poll while a job runs, also in a background tab, and until the one just started shows up settled
        refetchInterval: (q) => {
          const d = q.state.data;
          const running = d != null && (d.status === "queued" || d.status === "running");
          return running || (awaited != null && (d == null || d.id < awaited)) ? 1000 : false;
        },
        refetchIntervalInBackground: true,
      },
    ),
  );
  const j = job.data;
  const active = j != null && (j.status === "queued" || j.status === "running");
  const wasActive = useRef(false);
  useEffect(() => {
    // a job just finished: the labels changed
    if (wasActive.current && !active) void qc.invalidateQueries({ queryKey: trpc.labels.pathKey() });
    wasActive.current = active;
  }, [active, qc, trpc]);
  const start = useMutation(
    trpc.labels.start.mutationOptions({
      onSuccess: (r) => {
        setAwaited(r.jobId);
        void job.refetch();
      },
    }),
  );
  const cancel = useMutation(trpc.labels.cancel.mutationOptions({ onSuccess: () => void job.refetch() }));
  const r = j?.result;
  // an empty cap is the server's default; anything else must be a whole number of calls
  const capInvalid = cap.trim() !== "" && !(Number.isInteger(Number(cap)) && Number(cap) >= 1);

  return (
    <div className="flex flex-col gap-2 text-sm" data-testid="label-job-panel">
      {!config.configured ? (
        <p
          className="rounded border border-zinc-300 bg-zinc-50 px-3 py-2 dark:border-zinc-700 dark:bg-zinc-800"
          data-testid="label-config-missing"
        >
          Automatic labeling is off: no MLLM endpoint is configured on this server
          {config.error ? ` (${config.error})` : ""}. Labels can still be written and reviewed by hand. To turn it on,
          set <code>OPENAI_BASE_URL</code> and/or <code>OPENAI_API_KEY</code> (and <code>NEURFLOW_LABEL_MODEL</code>)
          for the web app and the worker — see docs/labeling.md.
        </p>
      ) : (
        <div className="flex flex-wrap items-center gap-3">
          <span className="text-zinc-500" data-testid="label-config">
            MLLM: {config.model}
            {config.endpoint ? ` at ${config.endpoint}` : ""}
          </span>
          <span className="flex-1" />
          {canEdit && !active && (
            <>
              <label className="flex items-center gap-1 text-zinc-600 dark:text-zinc-400">
                <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> relabel what is
                labeled
              </label>
              <label className="flex items-center gap-1 text-zinc-600 dark:text-zinc-400">
                at most
                <input
                  className={`${inputClass} w-20`}
                  type="number"
                  min={1}
                  value={cap}
                  onChange={(e) => setCap(e.target.value)}
                  placeholder="default"
                  aria-label="Call cap for this job"
                  data-testid="label-cap"
                />
                calls
              </label>
              <button
                className={buttonClass}
                disabled={start.isPending || capInvalid}
                onClick={() => start.mutate({ circuitId, force, ...(cap.trim() ? { maxCalls: Number(cap) } : {}) })}
                data-testid="label-start"
              >
                Label with the MLLM
              </button>
            </>
          )}
          {canEdit && active && (
            <button
              className={buttonClass}
              disabled={cancel.isPending || j.cancelRequested}
              onClick={() => cancel.mutate({ circuitId })}
            >
              {j.cancelRequested ? "Canceling…" : "Cancel labeling"}
            </button>
          )}
        </div>
      )}
      {j && (
        <div className="flex flex-col gap-1" data-testid="label-job">
          <div className="flex items-center gap-2">
            <span className="text-zinc-500">Last label job:</span>
            <StatusBadge status={j.status} />
            <span className="text-zinc-500">{Math.round((j.status === "succeeded" ? 1 : j.progress) * 100)}%</span>
            {active && j.message && <span className="truncate text-zinc-600 dark:text-zinc-300">{j.message}</span>}
          </div>
          {active && (
            <div
              className="h-2 w-full overflow-hidden rounded bg-zinc-200 dark:bg-zinc-800"
              role="progressbar"
              aria-label="Label job progress"
              aria-valuenow={Math.round(j.progress * 100)}
              aria-valuemin={0}
              aria-valuemax={100}
            >
              <div
                className="h-full bg-blue-600 transition-all dark:bg-blue-500"
                style={{ width: `${Math.round(j.progress * 100)}%` }}
              />
            </div>
          )}
          {j.status === "failed" && j.error && <ErrorBox>Labeling failed: {j.error}</ErrorBox>}
          {r && (
            <p className="text-zinc-600 dark:text-zinc-400">
              {r.labeled} label(s) and {r.explained} explanation(s) written by {r.model}, {r.skipped} skipped (already
              labeled), {r.failed.length} failed
              {r.capReached ? `, stopped at the call cap (${r.notAttempted} not attempted)` : ""}; {r.calls} call(s),{" "}
              {r.promptTokens + r.completionTokens} tokens.
            </p>
          )}
          {r && r.failed.length > 0 && (
            <details>
              <summary className="cursor-pointer text-amber-700 dark:text-amber-400">
                Failures ({r.failed.length}) — nothing was stored for these
              </summary>
              <ul className="mt-1 list-disc pl-5 text-xs">
                {r.failed.map((f, i) => (
                  <li key={i}>
                    {f.kind === "group"
                      ? `group ${groupName(layerNames[f.layer], f.layer, f.group)}`
                      : `edge ${groupName(layerNames[f.layer + 1], f.layer + 1, f.child)} → ${groupName(layerNames[f.layer], f.layer, f.parent)}`}
                    : {f.error}
                  </li>
                ))}
              </ul>
            </details>
          )}
        </div>
      )}
      {capInvalid && <ErrorBox>The call cap must be a whole number of at least 1 (or empty for the default).</ErrorBox>}
      {start.error && <ErrorBox>{start.error.message}</ErrorBox>}
      {cancel.error && <ErrorBox>{cancel.error.message}</ErrorBox>}
    </div>
  );
}
