import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { z } from "zod";
import { CircuitViewer } from "~/components/viewer/CircuitViewer";
import { nodeIdSchema, viewStateSchema } from "~/lib/circuits/viewState";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const c = await (await api()).circuits.get({ id: Number((await params).id) }).catch(() => null);
  return { title: c ? `Viewer · “${c.className}”` : "Circuit viewer" };
}

/** `?node=g12&t=0.3&tm=layer`: optional initial selection, threshold and per-layer threshold mode (bad values are ignored). */
const query = z.object({
  node: nodeIdSchema.optional().catch(undefined),
  t: z.coerce.number().min(0).max(1).optional().catch(undefined),
  tm: z.literal("layer").optional().catch(undefined),
});

export default async function CircuitViewPage({
  params,
  searchParams,
}: {
  params: Promise<{ id: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  await requireUser();
  const id = Number((await params).id);
  if (!Number.isInteger(id) || id <= 0) notFound();
  const graph = await (await api()).circuitGraph.get({ id }).catch(() => null);
  if (!graph) notFound();
  const q = query.parse(await searchParams);
  const initialView = viewStateSchema.parse({
    selected: q.node ?? null,
    threshold: q.t ?? 0,
    thresholdMode: q.tm === "layer" ? "perLayer" : "global",
  });
  const c = graph.circuit;
  return (
    <div className="flex flex-col gap-3">
      <div>
        <h1 className="text-2xl font-semibold">Concept circuit of “{c.className}”</h1>
        <p className="mt-1 text-sm text-zinc-500 dark:text-zinc-400">
          {c.modelId ? (
            <Link className="hover:underline" href={`/models/${c.modelId}`}>
              {c.modelName}
            </Link>
          ) : (
            c.modelName
          )}{" "}
          · τ {c.tau} · k {c.k} · {c.chain.join(" → ")} · {graph.groups.length} groups · {graph.edges.length} edges ·{" "}
          <Link className="hover:underline" href={`/circuits/${c.id}`}>
            summary
          </Link>{" "}
          ·{" "}
          <Link className="hover:underline" href={`/circuits/compare?a=${c.id}`}>
            compare…
          </Link>{" "}
          ·{" "}
          <Link className="hover:underline" href={`/circuits/${c.id}/evaluations`} data-testid="open-evaluations">
            evaluations
          </Link>
        </p>
      </div>
      <CircuitViewer
        graph={graph}
        initialView={initialView}
        shareToken={null}
        canShare
        documentHref={`/api/circuits/${c.id}/export`}
      />
    </div>
  );
}
