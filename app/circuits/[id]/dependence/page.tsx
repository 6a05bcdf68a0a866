import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { orderDatasets } from "~/components/datasetChoice";
import { DependenceView, type DependencePageData } from "~/components/evaluations/DependenceView";
import { hasRole } from "~/server/api/trpc";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const c = await (await api()).circuits.get({ id: Number((await params).id) }).catch(() => null);
  return { title: c ? `Class dependence · “${c.className}”` : "Class dependence" };
}

/** A circuit's class-dependence report: each group's causal share against random sets, bias candidates (docs/evaluations-ui.md). */
export default async function CircuitDependencePage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requireUser();
  const id = Number((await params).id);
  if (!Number.isInteger(id) || id <= 0) notFound();
  const caller = await api();
  const graph = await caller.circuitGraph.get({ id }).catch(() => null);
  if (!graph) notFound();
  const [list, datasets, summary] = await Promise.all([
    caller.evaluations.list({ circuitId: id, kind: "classDependence", limit: 20 }),
    caller.datasets.list(),
    caller.circuits.get({ id }),
  ]);
  const run = summary.runId != null ? await caller.runs.get({ id: summary.runId }).catch(() => null) : null;
  const c = graph.circuit;
  const data: DependencePageData = {
    circuit: { id: c.id, className: c.className, hasImages: c.hasImages, layers: c.layers },
    groups: graph.groups.map((g) => ({ rowId: g.id, layer: g.layer, groupId: g.groupId, label: g.label })),
    // the run's own dataset first: other classes' images of the same world
    datasets: orderDatasets(datasets, { datasetId: run?.datasetId, modelId: c.modelId }).map((d) => ({
      id: d.id,
      name: d.name,
    })),
    canStart: hasRole(user.role, "annotator") && c.modelId != null && c.hasImages,
  };
  return (
    <div className="flex flex-col gap-4">
      <div>
        <h1 className="text-2xl font-semibold">Why does the model say “{c.className}”? Class dependence</h1>
        <p className="mt-1 text-sm text-zinc-500 dark:text-zinc-400">
          {c.modelName} · τ {c.tau} · {c.chain.join(" → ")} · {list.facts.imageCount} class images ·{" "}
          <Link className="hover:underline" href={`/circuits/${c.id}/view`}>
            viewer
          </Link>{" "}
          ·{" "}
          <Link className="hover:underline" href={`/circuits/${c.id}/evaluations`}>
            evaluations
          </Link>{" "}
          ·{" "}
          <a className="hover:underline" href={`/api/circuits/${c.id}/export`}>
            JSON (with the newest report)
          </a>
        </p>
        {!c.modelId && (
          <p className="mt-2 text-sm text-amber-700">
            This circuit has no registered model (an imported document): its groups cannot be masked.
          </p>
        )}
      </div>
      <DependenceView data={data} initial={list} />
    </div>
  );
}
