"use client";
import { useMutation } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import type { AppRouter } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { buttonClass, Card, ErrorBox, inputClass, secondaryButtonClass, tableClass, when } from "./ui";

type Out = inferRouterOutputs<AppRouter>["workers"];
type WorkerRow = Out["list"][number];
type TokenRow = Out["tokens"][number];

/** A worker unheard of for this long is shown as silent (its heartbeat is a third of its lease, 30 s by default). */
const SILENT_MS = 90_000;

function state(w: WorkerRow, now: number): { text: string; className: string } {
  if (w.tokenRevoked) return { text: "token revoked", className: "text-red-700 dark:text-red-400" };
  if (w.stoppedAt != null) return { text: "stopped", className: "text-zinc-500" };
  if (now - w.lastSeenAt > SILENT_MS) return { text: "silent", className: "text-amber-700 dark:text-amber-400" };
  return w.currentJobId != null
    ? { text: "working", className: "text-green-700 dark:text-green-400" }
    : { text: "idle", className: "text-zinc-700 dark:text-zinc-300" };
}

/** "12 s ago", "3 min ago", "2 h ago" (from the page's render time). */
function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function CurrentJob({ job }: { job: WorkerRow["currentJob"] }) {
  if (!job) return "—";
  const text = `${job.kind} job ${job.id} · ${Math.round(job.progress * 100)} %`;
  return job.runId != null ? (
    <Link className="underline" href={`/runs/${job.runId}`}>
      {text}
    </Link>
  ) : (
    text
  );
}

/** Workers on other machines (docs/platform.md, "Deployment"): who is working, and the tokens they use. */
export function WorkersAdmin({ workers, tokens, now }: { workers: WorkerRow[]; tokens: TokenRow[]; now: number }) {
  return (
    <div className="flex flex-col gap-6">
      <Card title={`Workers on other machines (${workers.length})`}>
        {workers.length === 0 ? (
          <p className="text-sm text-zinc-500" data-testid="no-workers">
            No worker on another machine has registered yet. Workers on this machine (NEURFLOW_DB) are not listed.
          </p>
        ) : (
          <table className={tableClass} data-testid="workers">
            <thead>
              <tr>
                <th>Worker</th>
                <th>Host</th>
                <th>Backend</th>
                <th>State</th>
                <th>Current job</th>
                <th>Last heartbeat</th>
                <th>Token</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => {
                const s = state(w, now);
                return (
                  <tr key={w.id} data-testid="worker-row">
                    <td className="font-mono text-xs">{w.id}</td>
                    <td>{w.host}</td>
                    <td>{w.backend}</td>
                    <td className={`whitespace-nowrap ${s.className}`}>{s.text}</td>
                    <td className="whitespace-nowrap" data-testid="worker-current-job">
                      <CurrentJob job={w.currentJob} />
                    </td>
                    <td className="whitespace-nowrap" title={new Date(w.lastSeenAt).toISOString()}>
                      {when(w.lastSeenAt)}
                      <span className="block text-xs text-zinc-500">{ago(w.lastSeenAt, now)}</span>
                    </td>
                    <td className="whitespace-nowrap">{w.tokenName}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Card>
      <div className="grid gap-6 lg:grid-cols-2">
        <Card title={`Worker tokens (${tokens.length})`}>
          <TokenTable tokens={tokens} />
        </Card>
        <Card title="Add a worker token">
          <CreateTokenForm />
        </Card>
      </div>
    </div>
  );
}

function TokenTable({ tokens }: { tokens: TokenRow[] }) {
  const trpc = useTRPC();
  const router = useRouter();
  const revoke = useMutation(trpc.workers.revokeToken.mutationOptions({ onSuccess: () => router.refresh() }));
  if (tokens.length === 0) return <p className="text-sm text-zinc-500">No worker token yet.</p>;
  return (
    <div className="flex flex-col gap-3">
      <table className={tableClass} data-testid="worker-tokens">
        <thead>
          <tr>
            <th>Name</th>
            <th>Created</th>
            <th>Last used</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id} data-testid={`worker-token-${t.name}`}>
              <td className="whitespace-nowrap">{t.name}</td>
              <td>
                <span className="whitespace-nowrap">{when(t.createdAt)}</span>
                {t.creator ? <span className="block text-xs text-zinc-500">by {t.creator}</span> : null}
              </td>
              <td className="whitespace-nowrap">{t.lastUsedAt ? when(t.lastUsedAt) : "never"}</td>
              <td>
                {t.revokedAt != null ? (
                  <span className="text-xs text-red-700 dark:text-red-400">revoked {when(t.revokedAt)}</span>
                ) : (
                  <button
                    type="button"
                    className={secondaryButtonClass}
                    disabled={revoke.isPending}
                    onClick={() => {
                      if (window.confirm(`Revoke the token "${t.name}"? Its workers stop at their next call.`))
                        revoke.mutate({ id: t.id });
                    }}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {revoke.error && <ErrorBox>{revoke.error.message}</ErrorBox>}
      <p className="text-xs text-zinc-500">
        A revoked token is refused at its worker&apos;s next call; the worker stops and the job it held is resumed by
        another worker from its last checkpoint.
      </p>
    </div>
  );
}

function CreateTokenForm() {
  const trpc = useTRPC();
  const router = useRouter();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const create = useMutation(
    trpc.workers.createToken.mutationOptions({
      onSuccess: (r) => {
        setCreated({ name, token: r.token });
        setName("");
        router.refresh();
      },
      onMutate: () => setCreated(null),
    }),
  );
  return (
    <form
      className="flex flex-col gap-3 text-sm"
      data-testid="create-worker-token"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate({ name });
      }}
    >
      <label className="flex flex-col gap-1">
        Name
        <input
          name="worker-token-name"
          autoComplete="off"
          className={inputClass}
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="gpu-box-1"
          required
        />
        <span className="text-xs text-zinc-500">the machine it is for; one token per machine lets you revoke one</span>
      </label>
      {create.error && <ErrorBox>{create.error.message}</ErrorBox>}
      {created && (
        <div className="flex flex-col gap-1" role="status" data-testid="new-worker-token">
          <p className="text-green-700 dark:text-green-400">
            Token for {created.name} — shown only now; set it as NEURFLOW_WORKER_TOKEN on that machine:
          </p>
          <code className="break-all rounded bg-zinc-100 p-2 font-mono text-xs dark:bg-zinc-800">{created.token}</code>
        </div>
      )}
      <button className={buttonClass} disabled={create.isPending} type="submit">
        Create token
      </button>
    </form>
  );
}
