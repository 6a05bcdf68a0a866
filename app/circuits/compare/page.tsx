/**
 * Two circuits side by side, neuron groups matched by concept (what they see; any two circuits) or
 * by member neurons (two circuits of one model only).
 */
import type { Metadata } from "next";
import Link from "next/link";
import { z } from "zod";
import { buttonClass, Card, inputClass } from "~/components/ui";
import { CompareView } from "~/components/viewer/CompareView";
import { ConceptCompare } from "~/components/viewer/ConceptCompare";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Compare circuits" };

/** A circuit id from the query: absent when empty, "bad" when it is not an id. */
const circuitParam = z.preprocess(
  (v) => (v === undefined || v === "" ? undefined : v),
  z.coerce.number().int().positive().optional().catch(-1),
);
const query = z.object({
  a: circuitParam,
  b: circuitParam,
  by: z.enum(["concept", "neurons"]).catch("concept").default("concept"),
});

export default async function ComparePage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const user = await requireUser();
  const q = query.parse(await searchParams);
  const caller = await api();
  const all = await caller.circuitBrowse.search({ sort: "class", limit: 500 });
  const data =
    q.a != null && q.a > 0 && q.b != null && q.b > 0
      ? await caller.circuitCompare.get({ a: q.a, b: q.b }).catch(() => null)
      : null;
  const concept = data ? await caller.circuitCompare.concept({ a: data.a.circuit.id, b: data.b.circuit.id }) : null;
  const byNeurons = q.by === "neurons" && data?.sameModel === true;
  const modeHref = (by: string) => `/circuits/compare?a=${q.a}&b=${q.b}&by=${by}`;
  const option = (c: (typeof all)[number]) => (
    <option key={c.id} value={c.id}>
      #{c.id} {c.className} · {c.modelName} · τ {c.tau}
    </option>
  );
  return (
    <div className="flex flex-col gap-4">
      <h1 className="text-2xl font-semibold">Compare circuits</h1>
      <form method="get" className="flex flex-wrap items-end gap-2 text-sm">
        <select
          className={inputClass}
          name="a"
          defaultValue={q.a != null && q.a > 0 ? q.a : ""}
          aria-label="Left circuit"
          required
        >
          <option value="">left circuit…</option>
          {all.map(option)}
        </select>
        <select
          className={inputClass}
          name="b"
          defaultValue={q.b != null && q.b > 0 ? q.b : ""}
          aria-label="Right circuit"
          required
        >
          <option value="">right circuit…</option>
          {all.map(option)}
        </select>
        <button className={buttonClass} type="submit">
          Compare
        </button>
      </form>
      {(q.a === -1 || q.b === -1) && (
        <Card title="Not a circuit">
          <p className="text-sm" data-testid="compare-problem">
            The address names something that is not a circuit id; pick two circuits above.
          </p>
        </Card>
      )}
      {q.a != null && q.a > 0 && q.b != null && q.b > 0 && !data && (
        <Card title="Not found">
          <p className="text-sm" data-testid="compare-problem">
            One of the circuits does not exist (or you may not see it); pick two circuits above.
          </p>
        </Card>
      )}
      {(q.a == null) !== (q.b == null) && (
        <p className="text-sm text-zinc-500" data-testid="compare-problem">
          Pick a circuit on each side.
        </p>
      )}
      {data && (
        <>
          <nav className="flex flex-wrap items-center gap-3 text-sm" data-testid="compare-mode">
            <span className="text-zinc-500">Match groups by</span>
            <Link
              className={!byNeurons ? "font-semibold underline" : "hover:underline"}
              href={modeHref("concept")}
              data-testid="mode-concept"
            >
              concept (what they see)
            </Link>
            {data.sameModel ? (
              <Link
                className={byNeurons ? "font-semibold underline" : "hover:underline"}
                href={modeHref("neurons")}
                data-testid="mode-neurons"
              >
                member neurons (same model)
              </Link>
            ) : (
              <span className="text-zinc-400" data-testid="mode-neurons-off">
                member neurons — not offered: the two circuits come from different models, whose neuron indices mean
                nothing to each other
              </span>
            )}
            <span className="flex-1" />
            <Link className="hover:underline" href={`/circuits/${data.a.circuit.id}/view`}>
              open left
            </Link>
            <Link className="hover:underline" href={`/circuits/${data.b.circuit.id}/view`}>
              open right
            </Link>
          </nav>
          {q.by === "neurons" && !data.sameModel && (
            <p className="text-sm text-amber-700 dark:text-amber-400" data-testid="compare-problem">
              Matching by member neurons needs two circuits of one model; this page shows the concept match instead.
            </p>
          )}
          {byNeurons ? (
            <>
              <p className="text-sm text-zinc-500" data-testid="compare-summary">
                <strong>Matched by member neurons</strong>: {data.comparison.matches.length} shared groups (green),{" "}
                {data.comparison.onlyA.length} only left, {data.comparison.onlyB.length} only right (amber, dashed) ·
                Jaccard ≥ 0.34 within the shared layers {data.comparison.sharedLayers.join(", ") || "—"}. Both circuits
                come from one model, so a shared neuron is the same unit in both.
              </p>
              <CompareView a={data.a} b={data.b} comparison={data.comparison} />
            </>
          ) : (
            <ConceptCompare
              a={data.a}
              b={data.b}
              comparison={data.comparison}
              initial={concept!}
              canStart={user.role !== "viewer"}
            />
          )}
        </>
      )}
    </div>
  );
}
