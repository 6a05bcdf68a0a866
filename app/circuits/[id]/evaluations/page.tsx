import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { orderDatasets } from "~/components/datasetChoice";
import { EvaluationsView, type EvaluationsPageData } from "~/components/evaluations/EvaluationsView";
import { hasRole } from "~/server/api/trpc";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const c = await (await api()).circuits.get({ id: Number((await params).id) }).catch(() => null);
  return { title: c ? `Evaluations · “${c.className}”` : "Evaluations" };
}

/** A circuit's evaluations and applications: start forms, live jobs, results as plots with exports. */
export default async function CircuitEvaluationsPage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requireUser();
  const id = Number((await params).id);
  if (!Number.isInteger(id) || id <= 0) notFound();
  const caller = await api();
  const graph = await caller.circuitGraph.get({ id }).catch(() => null);
  if (!graph) notFound();
  const [list, datasets, model, summary] = await Promise.all([
    caller.evaluations.list({ circuitId: id }),
    caller.datasets.list(),
    graph.circuit.modelId ? caller.models.get({ id: graph.circuit.modelId }).catch(() => null) : Promise.resolve(null),
    caller.circuits.get({ id }),
  ]);
  const run = summary.runId != null ? await caller.runs.get({ id: summary.runId }).catch(() => null) : null;
  const c = graph.circuit;
  const data: EvaluationsPageData = {
    circuit: {
      id: c.id,
      className: c.className,
      classIndex: c.classIndex,
      tau: c.tau,
      patchCount: c.patchCount,
      imageCount: list.facts.imageCount,
      hasImages: c.hasImages,
      inputSize: c.inputSize,
      classes: model?.classes ?? [],
    },
    layers: list.facts.layers.map((l, index) => ({
      index,
      upper: l.upper,
      lower: l.lower,
      groups: graph.groups
        .filter((g) => g.layer === index)
        .map((g) => ({
          rowId: g.id,
          groupId: g.groupId,
          label: g.label,
          neurons: new Set(g.members.map((m) => m.neuron)).size,
        })),
    })),
    // the run's own dataset first: false positives of another model's images mean nothing here
    datasets: orderDatasets(datasets, { datasetId: run?.datasetId, modelId: graph.circuit.modelId }).map((d) => ({
      id: d.id,
      name: d.name,
    })),
    canStart: hasRole(user.role, "annotator"),
  };
  return (
    <div className="flex flex-col gap-4">
      <div>
        <h1 className="text-2xl font-semibold">Evaluations of the circuit of “{c.className}”</h1>
        <p className="mt-1 text-sm text-zinc-500 dark:text-zinc-400">
          {c.modelName} · τ {c.tau} · k {c.k} · {c.chain.join(" → ")} · {list.facts.imageCount} images · {c.patchCount}{" "}
          patches ·{" "}
          <Link className="hover:underline" href={`/circuits/${c.id}/view`}>
            viewer
          </Link>{" "}
          ·{" "}
          <Link className="hover:underline" href={`/circuits/${c.id}`}>
            summary
          </Link>{" "}
          ·{" "}
          <Link className="hover:underline" href={`/circuits/${c.id}/dependence`} data-testid="open-dependence">
            class dependence
          </Link>
        </p>
        {!c.modelId && (
          <p className="mt-2 text-sm text-amber-700">
            This circuit has no registered model (an imported document): evaluations cannot run on it.
          </p>
        )}
        {c.modelId && !c.hasImages && (
          <p className="mt-2 text-sm text-amber-700">
            The circuit&apos;s images are not on this server: only image debugging of uploaded images can run.
          </p>
        )}
      </div>
      <nav aria-label="Evaluation sections" className="flex flex-wrap gap-3 text-sm text-blue-700 dark:text-blue-400">
        {[
          ["optimality", "Optimality"],
          ["fidelityOfNeurons", "Fidelity of neurons"],
          ["fidelityOfWeights", "Fidelity of weights"],
          ["faithfulness", "Faithfulness"],
          ["imageDebug", "Image debugging"],
          ["groupMasking", "Group masking"],
        ].map(([k, t]) => (
          <a key={k} href={`#${k}`} className="hover:underline">
            {t}
          </a>
        ))}
      </nav>
      <EvaluationsView data={data} initial={list} />
    </div>
  );
}
