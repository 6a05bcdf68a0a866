/** Two circuits side by side, neuron groups matched by their member neurons. */
import type { Metadata } from "next";
import Link from "next/link";
import { z } from "zod";
import { buttonClass, Card, inputClass } from "~/components/ui";
import { CompareView } from "~/components/viewer/CompareView";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Compare circuits" };

/** A circuit id from the query: absent when empty, "bad" when it is not an id. */
const circuitParam = z.preprocess(
  (v) => (v === undefined || v === "" ? undefined : v),
  z.coerce.number().int().positive().optional().catch(-1),
);
const query = z.object({ a: circuitParam, b: circuitParam });

export default async function ComparePage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  await requireUser();
  const q = query.parse(await searchParams);
  const caller = await api();
  const all = await caller.circuitBrowse.search({ sort: "class", limit: 500 });
  const data =
    q.a != null && q.a > 0 && q.b != null && q.b > 0
      ? await caller.circuitCompare.get({ a: q.a, b: q.b }).catch(() => null)
      : null;
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
          <p className="text-sm text-zinc-500" data-testid="compare-summary">
            {data.comparison.matches.length} shared groups (green), {data.comparison.onlyA.length} only left,{" "}
            {data.comparison.onlyB.length} only right (amber, dashed) · matched by member neurons (Jaccard ≥ 0.34)
            within the shared layers {data.comparison.sharedLayers.join(", ") || "—"} ·{" "}
            <Link className="hover:underline" href={`/circuits/${data.a.circuit.id}/view`}>
              open left
            </Link>{" "}
            ·{" "}
            <Link className="hover:underline" href={`/circuits/${data.b.circuit.id}/view`}>
              open right
            </Link>
          </p>
          <CompareView a={data.a} b={data.b} comparison={data.comparison} />
        </>
      )}
    </div>
  );
}
