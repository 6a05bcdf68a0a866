import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { orderDatasets } from "~/components/datasetChoice";
import { RefreshWhile } from "~/components/RefreshWhile";
import { StartRunForm } from "~/components/StartRunForm";
import { Card, StatusBadge, tableClass, when } from "~/components/ui";
import { hasRole } from "~/server/api/trpc";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const m = await (await api()).models.get({ id: Number((await params).id) }).catch(() => null);
  return { title: m ? `Model ${m.name}` : "Model" };
}

export default async function ModelPage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requireUser();
  const id = Number((await params).id);
  if (!Number.isInteger(id) || id <= 0) notFound();
  const m = await (await api()).models.get({ id }).catch(() => null);
  if (!m) notFound();
  const withCircuit = new Set(m.circuits.map((c) => c.className));
  // newest circuit per class (m.circuits is newest first)
  const firstCircuit = new Map<string, number>();
  for (const c of m.circuits) if (!firstCircuit.has(c.className)) firstCircuit.set(c.className, c.id);
  return (
    <div className="flex flex-col gap-6">
      <div>
        <h1 className="text-2xl font-semibold">{m.name}</h1>
        <p className="mt-1 flex items-center gap-2 text-sm text-zinc-500 dark:text-zinc-400">
          {m.format} · input {m.inputSize}×{m.inputSize} · {(m.sizeBytes / 1e6).toFixed(1)} MB ·{" "}
          <StatusBadge status={m.status} />
          {m.statusMessage && <span data-testid="model-status-message">{m.statusMessage}</span>}
        </p>
        {/* the load check runs in the worker: follow it until it settles */}
        <RefreshWhile active={m.status === "validating"} />
      </div>
      <div className="grid gap-6 lg:grid-cols-2">
        <Card title={`Classes (${m.classes.length})`}>
          <ul className="flex flex-wrap gap-2 text-sm">
            {m.classes.map((c) => (
              <li
                key={c}
                className={`rounded px-2 py-0.5 ${withCircuit.has(c) ? "bg-green-100 dark:bg-green-900" : "bg-zinc-100 dark:bg-zinc-800"}`}
              >
                {firstCircuit.has(c) ? <Link href={`/circuits/${firstCircuit.get(c)}/view`}>{c}</Link> : c}
              </li>
            ))}
          </ul>
          <p className="mt-2 text-xs text-zinc-500">
            Green: classes with a stored circuit ·{" "}
            <Link className="hover:underline" href={`/circuits?model=${m.id}`}>
              browse them
            </Link>
          </p>
        </Card>
        <Card title="Circuits">
          {m.circuits.length === 0 ? (
            <p className="text-sm text-zinc-500">None yet.</p>
          ) : (
            <table className={tableClass}>
              <thead>
                <tr>
                  <th>Class</th>
                  <th>τ</th>
                  <th>Stored</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {m.circuits.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <Link
                        className="text-blue-700 hover:underline dark:text-blue-400"
                        href={`/circuits/${c.id}/view`}
                      >
                        {c.className}
                      </Link>
                    </td>
                    <td>{c.tau}</td>
                    <td>{when(c.storedAt)}</td>
                    <td className="text-xs">
                      <Link className="text-blue-700 hover:underline dark:text-blue-400" href={`/circuits/${c.id}`}>
                        labels
                      </Link>{" "}
                      ·{" "}
                      <Link
                        className="text-blue-700 hover:underline dark:text-blue-400"
                        href={`/circuits/${c.id}/evaluations`}
                      >
                        evaluations
                      </Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Card title="Runs">
          {m.runs.length === 0 ? (
            <p className="text-sm text-zinc-500">None yet.</p>
          ) : (
            <table className={tableClass}>
              <thead>
                <tr>
                  <th>Run</th>
                  <th>Class</th>
                  <th>τ / k / N</th>
                  <th>Status</th>
                  <th>Started</th>
                </tr>
              </thead>
              <tbody>
                {m.runs.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <Link className="text-blue-700 hover:underline dark:text-blue-400" href={`/runs/${r.id}`}>
                        #{r.id}
                      </Link>
                    </td>
                    <td>{r.className}</td>
                    <td>
                      {r.params.tau} / {r.params.k} / {r.params.igSteps}
                    </td>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td>{when(r.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        {hasRole(user.role, "annotator") && (
          <Card title="Start a run" id="start-run">
            {m.status !== "ready" ? (
              <p className="text-sm text-zinc-500" data-testid="run-form-waiting">
                {m.status === "validating"
                  ? "The run form appears once the worker has loaded the model and run one batch (its load check)."
                  : "This model failed its load check (above): upload a corrected model to compute circuits."}
              </p>
            ) : (
              <StartRunForm
                modelId={m.id}
                classes={m.classes}
                layers={m.layers}
                datasets={orderDatasets(m.datasets, { modelId: m.id }).map((d) => ({
                  id: d.id,
                  name: d.name,
                  forModel: d.modelId === m.id,
                  classes: d.classes,
                }))}
              />
            )}
          </Card>
        )}
      </div>
    </div>
  );
}
