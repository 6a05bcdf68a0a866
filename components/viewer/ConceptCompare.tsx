"use client";
/**
 * The compare page's concept match (docs/viewer.md, "Compare"): the two graphs with groups marked
 * by their best concept match, a "Compute" button (annotators) with the job's live progress, and
 * per group its best match in the other circuit with the match strength drawn as a bar.
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useMemo } from "react";
import { conceptPairing, type ConceptBest, type ConceptPairing } from "~/lib/circuits/conceptPairing";
import { groupTitle } from "~/lib/circuits/svg";
import { imageUrls, type CircuitGraph } from "~/lib/circuits/viewTypes";
import type { AppRouter } from "~/server/api/root";
import type { Comparison } from "~/server/circuits/compare";
import { useTRPC } from "~/trpc/react";
import { buttonClass, ErrorBox } from "../ui";
import { CompareView } from "./CompareView";

type ConceptData = inferRouterOutputs<AppRouter>["circuitCompare"]["concept"];
const live = (s?: string) => s === "queued" || s === "running";

/** Layer · gN, and the label beside it when the group has one. */
function title(g: CircuitGraph["groups"][number], layers: string[]): string {
  const id = `${layers[g.layer] ?? `L${g.layer}`} · g${g.groupId}`;
  return g.label ? `${id} “${groupTitle(g, layers)}”` : id;
}

/** Strength on −1…1 as a bar from 0, with the threshold marked. */
function StrengthBar({ value, threshold }: { value: number | null; threshold: number }) {
  const W = 140;
  const H = 14;
  const x = (v: number) => ((v + 1) / 2) * W;
  return (
    <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`match strength ${value ?? "none"}`}>
      <rect x={0} y={3} width={W} height={H - 6} fill="#f4f4f5" />
      {value != null && (
        <rect
          x={Math.min(x(0), x(value))}
          y={3}
          width={Math.abs(x(value) - x(0))}
          height={H - 6}
          fill={value >= threshold ? "#16a34a" : "#f59e0b"}
        />
      )}
      <line x1={x(0)} x2={x(0)} y1={0} y2={H} stroke="#a1a1aa" />
      <line x1={x(threshold)} x2={x(threshold)} y1={0} y2={H} stroke="#18181b" strokeDasharray="2 2" />
    </svg>
  );
}

function MatchTable({
  side,
  rows,
  own,
  other,
  threshold,
}: {
  side: "a" | "b";
  rows: ConceptBest[];
  own: CircuitGraph;
  other: CircuitGraph;
  threshold: number;
}) {
  const ownName = side === "a" ? "left" : "right";
  const otherName = side === "a" ? "right" : "left";
  const sorted = [...rows].sort((x, y) => (y.strength ?? -2) - (x.strength ?? -2));
  const urls = imageUrls(own.circuit.id, null);
  const otherUrls = imageUrls(other.circuit.id, null);
  return (
    <table className="w-full text-sm" data-testid={`concept-table-${side}`}>
      <thead>
        <tr className="text-left text-xs text-zinc-500">
          <th className="py-1">{ownName}: group</th>
          <th>best match on the {otherName}</th>
          <th>strength (Spearman ρ of metric M)</th>
          <th>verdict</th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((r) => {
          const g = own.groups.find((x) => x.id === r.id)!;
          const o = r.other != null ? other.groups.find((x) => x.id === r.other) : undefined;
          return (
            <tr
              key={r.id}
              className="border-t border-zinc-100 dark:border-zinc-800"
              data-testid="concept-row"
              data-side={side}
              data-layer={own.circuit.layers[g.layer]}
              data-group={g.groupId}
              data-matched={r.matched ? "1" : "0"}
              data-strength={r.strength ?? ""}
            >
              <td className="py-1">
                <span className="flex items-center gap-2">
                  {own.circuit.hasImages && (
                    <img src={urls.mosaic(g.id)} alt="" width={40} height={40} className="rounded" />
                  )}
                  {title(g, own.circuit.layers)}
                </span>
              </td>
              <td>
                {o ? (
                  <span className="flex items-center gap-2">
                    {other.circuit.hasImages && (
                      <img src={otherUrls.mosaic(o.id)} alt="" width={40} height={40} className="rounded" />
                    )}
                    {title(o, other.circuit.layers)}
                  </span>
                ) : (
                  "—"
                )}
              </td>
              <td>
                <span className="flex items-center gap-2 tabular-nums">
                  <StrengthBar value={r.strength} threshold={threshold} />
                  {r.strength != null ? r.strength.toFixed(2) : "—"}
                </span>
              </td>
              <td data-testid="concept-verdict">
                {r.matched ? (
                  <span className="text-green-700 dark:text-green-400">present in both</span>
                ) : (
                  <span className="text-amber-700 dark:text-amber-400">
                    only in the {ownName} circuit (absent on the {otherName})
                  </span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function ConceptCompare({
  a,
  b,
  comparison,
  initial,
  canStart,
}: {
  a: CircuitGraph;
  b: CircuitGraph;
  comparison: Comparison;
  initial: ConceptData;
  canStart: boolean;
}) {
  const trpc = useTRPC();
  const input = { a: a.circuit.id, b: b.circuit.id };
  const q = useQuery(
    trpc.circuitCompare.concept.queryOptions(input, {
      initialData: initial,
      refetchInterval: (x) => (live(x.state.data?.job?.status) ? 1500 : false),
      refetchIntervalInBackground: true,
    }),
  );
  const data = q.data ?? initial;
  const start = useMutation(trpc.circuitCompare.startConcept.mutationOptions({ onSuccess: () => void q.refetch() }));
  const pairing: ConceptPairing | null = useMemo(
    () => (data.stored ? conceptPairing(a, b, data.stored.result) : null),
    [a, b, data.stored],
  );
  const job = data.job;
  const running = live(job?.status);
  const pct = Math.round((job?.progress ?? 0) * 100);
  const shared = pairing ? pairing.a.filter((g) => g.matched).length : 0;
  return (
    <div className="flex flex-col gap-3">
      <p className="text-sm" data-testid="concept-summary">
        {pairing ? (
          <>
            <strong>Matched by concept</strong>: {shared} of the left&apos;s {pairing.a.length} groups see what a group
            on the right sees (green), {pairing.a.length - shared} only left,{" "}
            {pairing.b.filter((g) => !g.matched).length} only right (amber, dashed). Strength = rank correlation of the
            two groups&apos; metric M over {pairing.probePatches} concept patches of both circuits, each run through
            both models; present in both at ≥ {pairing.minStrength}.
          </>
        ) : (
          <>
            <strong>Matched by concept</strong>: not computed yet for this pair.{" "}
            {data.problem
              ? `It cannot be: ${data.problem}.`
              : "A worker runs every group's concept patches through both models."}
          </>
        )}
      </p>
      {canStart && !data.problem && !running && (
        <div>
          <button
            className={buttonClass}
            onClick={() => start.mutate(input)}
            disabled={start.isPending}
            data-testid="concept-start"
          >
            {pairing ? "Compute the concept match again" : "Compute the concept match"}
          </button>
        </div>
      )}
      {start.error && <ErrorBox>{start.error.message}</ErrorBox>}
      {job && (running || job.status === "failed") && (
        <div className="flex items-center gap-2 text-sm" data-testid="concept-job">
          <span>
            job #{job.id} {job.status}
            {job.message ? `: ${job.message}` : ""}
          </span>
          {running && (
            <div
              className="h-2 w-48 overflow-hidden rounded bg-zinc-200 dark:bg-zinc-800"
              role="progressbar"
              aria-valuenow={pct}
              aria-valuemin={0}
              aria-valuemax={100}
            >
              <div className="h-full bg-blue-600 transition-all" style={{ width: `${pct}%` }} />
            </div>
          )}
          {job.error && <span className="text-red-700 dark:text-red-400">{job.error}</span>}
        </div>
      )}
      <CompareView a={a} b={b} comparison={comparison} concept={pairing} />
      {pairing && (
        <div className="grid gap-4 xl:grid-cols-2">
          <MatchTable side="a" rows={pairing.a} own={a} other={b} threshold={pairing.minStrength} />
          <MatchTable side="b" rows={pairing.b} own={b} other={a} threshold={pairing.minStrength} />
        </div>
      )}
    </div>
  );
}
