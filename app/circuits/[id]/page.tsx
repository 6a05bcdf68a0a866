import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { CircuitLabels } from "~/components/labels/CircuitLabels";
import { Card, tableClass, when } from "~/components/ui";
import { importanceMeaning, layerSeconds } from "~/lib/circuits/describe";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const c = await (await api()).circuits.get({ id: Number((await params).id) }).catch(() => null);
  return { title: c ? `Circuit of “${c.className}”` : "Circuit" };
}

/** A plain summary of a stored circuit (the interactive viewer is its own page). */
export default async function CircuitPage({ params }: { params: Promise<{ id: string }> }) {
  await requireUser();
  const id = Number((await params).id);
  if (!Number.isInteger(id) || id <= 0) notFound();
  const c = await (await api()).circuits.get({ id }).catch(() => null);
  if (!c) notFound();
  const p = c.params;
  return (
    <div className="flex flex-col gap-6">
      <div>
        <h1 className="text-2xl font-semibold">Circuit of “{c.className}”</h1>
        <p className="mt-1 text-sm text-zinc-500 dark:text-zinc-400">
          {c.model ? (
            <Link className="hover:underline" href={`/models/${c.model.id}`}>
              {c.model.name}
            </Link>
          ) : (
            c.modelName
          )}{" "}
          · class <span title={`output ${c.classIndex} of the model`}>“{c.className}”</span>
          {c.runId != null && (
            <>
              {" "}
              ·{" "}
              <Link className="hover:underline" href={`/runs/${c.runId}`}>
                run #{c.runId}
              </Link>
            </>
          )}{" "}
          · computed {Number.isNaN(Date.parse(c.createdAt)) ? c.createdAt : when(Date.parse(c.createdAt))} · stored{" "}
          {when(c.storedAt)}
        </p>
        <p className="mt-2">
          <Link
            className="rounded bg-blue-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-blue-700"
            href={`/circuits/${c.id}/view`}
            data-testid="open-viewer"
          >
            Open the circuit viewer
          </Link>{" "}
          <Link
            className="ml-2 rounded border border-zinc-300 px-3 py-1.5 text-sm font-medium hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
            href={`/circuits/${c.id}/evaluations`}
            data-testid="open-evaluations"
          >
            Evaluations
          </Link>
          <Link
            className="ml-2 rounded border border-zinc-300 px-3 py-1.5 text-sm font-medium hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
            href={`/circuits/${c.id}/dependence`}
            data-testid="open-dependence"
          >
            Class dependence
          </Link>
        </p>
      </div>
      <div className="grid gap-6 lg:grid-cols-3">
        <Card title="Parameters">
          <dl className="grid grid-cols-2 gap-x-3 gap-y-1 text-sm">
            <dt className="text-zinc-500">preset</dt>
            <dd>{p.preset}</dd>
            <dt className="text-zinc-500">τ</dt>
            <dd>{p.tau}</dd>
            <dt className="text-zinc-500">k</dt>
            <dd>{p.k}</dd>
            <dt className="text-zinc-500">N (IG)</dt>
            <dd>
              {p.igSteps} ({p.igMethod})
            </dd>
            <dt className="text-zinc-500">importance of a channel</dt>
            <dd title={p.importance}>{importanceMeaning(p.importance)}</dd>
            <dt className="text-zinc-500">granularities</dt>
            <dd>{p.granularities.join(", ")}</dd>
            <dt className="text-zinc-500">backend</dt>
            <dd>{p.backend}</dd>
            <dt className="text-zinc-500">seed</dt>
            <dd>{p.seed}</dd>
            <dt className="text-zinc-500">patches</dt>
            <dd>{c.patchCount}</dd>
          </dl>
        </Card>
        <div className="lg:col-span-2">
          <Card
            title="Layers"
            actions={
              <a
                className="text-sm text-blue-700 hover:underline dark:text-blue-400"
                href={`/api/circuits/${c.id}/export`}
              >
                Download JSON
              </a>
            }
          >
            <table className={tableClass}>
              <thead>
                <tr>
                  <th>Upper ← lower</th>
                  <th>Targets</th>
                  <th>Neuron groups</th>
                  <th>Group edges</th>
                  <th title="the engine's time for the pair (as on the run page); loading and activations are not included">
                    Seconds
                  </th>
                </tr>
              </thead>
              <tbody>
                {c.layers.map((l) => (
                  <tr key={`${l.upper}-${l.lower}`}>
                    <td>
                      {l.upper} ← {l.lower}
                    </td>
                    <td>{l.targets}</td>
                    <td>{l.neuronGroups}</td>
                    <td>{l.groupEdges}</td>
                    <td>{layerSeconds(l.timings)?.toFixed(1) ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Card>
        </div>
      </div>
      <Card title="Labels and explanations">
        <CircuitLabels circuitId={c.id} />
      </Card>
    </div>
  );
}
