"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { ErrorBox, secondaryButtonClass, StatusBadge, tableClass, when } from "./ui";

type Run = inferRouterOutputs<AppRouter>["runs"]["get"];
interface LogLine {
  id: string;
  at: number;
  text: string;
}

function describe(type: string, d: Record<string, unknown>): string | null {
  if (type === "status") {
    const s = String(d.status);
    if (s === "running") return `running (attempt ${String(d.attempt)}${d.resumed ? ", resumed from checkpoint" : ""})`;
    if (s === "queued" && d.error)
      return `attempt failed: ${String(d.error)}; retrying in ${Math.round(Number(d.retryInMs ?? 0) / 1000)} s`;
    return d.error ? `${s}: ${String(d.error)}` : s;
  }
  if (type === "log") return String(d.message);
  if (type === "checkpoint")
    return `layer ${String(d.layer)} done${d.seconds != null ? ` in ${Number(d.seconds).toFixed(1)} s` : ""} (checkpoint)`;
  return null;
}

/** The run page's header line; it reads the same live query as the progress card, so both move together. */
export function RunFacts({ initial }: { initial: Run }) {
  const trpc = useTRPC();
  const run = useQuery(trpc.runs.get.queryOptions({ id: initial.id }, { initialData: initial })).data ?? initial;
  return (
    <p className="mt-1 text-sm text-zinc-500 dark:text-zinc-400" data-testid="run-facts">
      <Link className="hover:underline" href={`/models/${run.modelId}`}>
        {run.modelName}
      </Link>{" "}
      · dataset {run.datasetName} · τ {run.params.tau} · k {run.params.k} · N {run.params.igSteps} · layers{" "}
      {run.layers.join(" → ")}
      {run.backend ? ` · backend ${run.backend}` : ""} · queued {when(run.createdAt)}
      {run.job && ` · attempt ${run.job.attempts}/${run.job.maxAttempts}`}
    </p>
  );
}

/** Live progress over the SSE subscription; the browser resumes after the last event id on reconnect. */
export function RunProgress({ initial, canCancel }: { initial: Run; canCancel: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const run = useQuery(trpc.runs.get.queryOptions({ id: initial.id }, { initialData: initial })).data ?? initial;
  const [fraction, setFraction] = useState(initial.job?.progress ?? 0);
  const [message, setMessage] = useState(initial.job?.message ?? "");
  const [log, setLog] = useState<LogLine[]>([]);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ id: initial.id }) });
  const sub = useSubscription(
    trpc.runs.progress.subscriptionOptions(
      { id: initial.id },
      {
        onData: ({ id, data: e }) => {
          if (e.type === "progress") {
            setFraction(Number(e.data.fraction ?? 0));
            setMessage(String(e.data.message ?? ""));
          } else {
            if (e.type === "status" && e.data.status === "succeeded") setFraction(1);
            const text = describe(e.type, e.data);
            if (text) setLog((l) => (l.some((x) => x.id === id) ? l : [...l, { id, at: e.at, text }]));
            void refresh();
          }
        },
      },
    ),
  );
  const cancel = useMutation(trpc.runs.cancel.mutationOptions({ onSuccess: () => void refresh() }));
  const active = run.status === "queued" || run.status === "running";
  const pct = Math.round((run.status === "succeeded" ? 1 : fraction) * 100);
  return (
    <div className="flex flex-col gap-4">
      <div className="flex items-center gap-3">
        <StatusBadge status={run.status} />
        <span className="text-sm text-zinc-500" data-testid="progress-text">
          {pct}%
        </span>
        <span className="truncate text-sm text-zinc-600 dark:text-zinc-300">{active ? message : ""}</span>
        <span className="flex-1" />
        {sub.status === "connecting" && active && <span className="text-xs text-zinc-500">connecting…</span>}
        {canCancel && active && (
          <button
            className={secondaryButtonClass}
            onClick={() =>
              window.confirm(`Cancel run #${run.id}? It stops after the current step and cannot be resumed.`) &&
              cancel.mutate({ id: run.id })
            }
            disabled={cancel.isPending || run.job?.cancelRequested}
          >
            {run.job?.cancelRequested ? "Canceling…" : "Cancel"}
          </button>
        )}
      </div>
      <div
        className="h-3 w-full overflow-hidden rounded bg-zinc-200 dark:bg-zinc-800"
        role="progressbar"
        aria-label="Run progress"
        aria-valuenow={pct}
        aria-valuemin={0}
        aria-valuemax={100}
      >
        <div className="h-full bg-blue-600 transition-all dark:bg-blue-500" style={{ width: `${pct}%` }} />
      </div>
      {run.status === "failed" && run.error && <ErrorBox>The run failed: {run.error}</ErrorBox>}
      {canCancel && (run.status === "failed" || run.status === "canceled") && (
        <p data-testid="run-again">
          <Link className="text-blue-700 hover:underline dark:text-blue-400" href={`/models/${run.modelId}#start-run`}>
            Start a new run on {run.modelName} →
          </Link>
        </p>
      )}
      {cancel.error && <ErrorBox>{cancel.error.message}</ErrorBox>}
      {run.circuitId != null && (
        <p>
          <Link className="text-blue-700 hover:underline dark:text-blue-400" href={`/circuits/${run.circuitId}`}>
            Open the circuit →
          </Link>
        </p>
      )}
      <div className="grid gap-4 md:grid-cols-2">
        <div>
          <h3 className="mb-1 text-sm font-semibold">Per-layer timings</h3>
          <p className="mb-1 text-xs text-zinc-500">
            The engine&apos;s seconds for each layer pair, as on the circuit&apos;s page; loading the model and
            computing the activations come before the first pair and are not counted.
          </p>
          {run.layerTimings.length === 0 ? (
            <p className="text-sm text-zinc-500">No layer finished yet.</p>
          ) : (
            <table className={tableClass}>
              <thead>
                <tr>
                  <th>Layer pair</th>
                  <th>Seconds</th>
                </tr>
              </thead>
              <tbody>
                {run.layerTimings.map((t) => (
                  <tr key={t.layer}>
                    <td>{t.layer}</td>
                    <td>{t.seconds.toFixed(1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <div>
          <h3 className="mb-1 text-sm font-semibold">Log</h3>
          <ol className="max-h-72 overflow-auto font-mono text-xs" data-testid="run-log">
            {log.map((l) => (
              <li key={l.id}>
                <span className="text-zinc-500">{new Date(l.at).toISOString().slice(11, 19)}</span> {l.text}
              </li>
            ))}
          </ol>
        </div>
      </div>
      {sub.error && <ErrorBox>Live updates stopped: {sub.error.message}</ErrorBox>}
    </div>
  );
}
