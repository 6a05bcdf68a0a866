"use client";
/**
 * Two concept graphs side by side: shared groups in green, specific ones in amber; selecting a
 * group selects its match. Matched by member neurons (`comparison`), or, when `concept` is given,
 * by what the groups see (the concept match: each group's best match in the other circuit).
 */
import { useMemo, useState } from "react";
import type { Comparison } from "~/server/circuits/compare";
import type { ConceptPairing } from "~/lib/circuits/conceptPairing";
import { groupTitle } from "~/lib/circuits/svg";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";
import { CircuitCanvas } from "./CircuitCanvas";
import { useSystemDark } from "./useSystemDark";

export function CompareView({
  a,
  b,
  comparison,
  concept,
}: {
  a: CircuitGraph;
  b: CircuitGraph;
  comparison: Comparison;
  /** Match by concept instead of member neurons (null: by concept, not computed yet). */
  concept?: ConceptPairing | null;
}) {
  const dark = useSystemDark();
  const [sel, setSel] = useState<{ a: string | null; b: string | null }>({ a: null, b: null });
  const [threshold, setThreshold] = useState(0);
  const [picked, setPicked] = useState<"a" | "b">("a");
  const classes = useMemo(() => {
    const ca = new Map<string, string>();
    const cb = new Map<string, string>();
    if (concept !== undefined) {
      for (const g of concept?.a ?? []) ca.set(`g${g.id}`, g.matched ? "shared" : "specific");
      for (const g of concept?.b ?? []) cb.set(`g${g.id}`, g.matched ? "shared" : "specific");
      return { a: ca, b: cb };
    }
    for (const m of comparison.matches) {
      ca.set(`g${m.a}`, "shared");
      cb.set(`g${m.b}`, "shared");
    }
    for (const g of comparison.onlyA) ca.set(`g${g}`, "specific");
    for (const g of comparison.onlyB) cb.set(`g${g}`, "specific");
    return { a: ca, b: cb };
  }, [comparison, concept]);
  const pick = (side: "a" | "b", id: string | null) => {
    const gid = id?.startsWith("g") ? Number(id.slice(1)) : null;
    if (concept !== undefined) {
      const best = concept?.[side].find((g) => g.id === gid);
      const other = best?.other != null ? `g${best.other}` : null;
      setSel(side === "a" ? { a: id, b: other } : { a: other, b: id });
      setPicked(side);
      return;
    }
    const m = comparison.matches.find((x) => (side === "a" ? x.a : x.b) === gid);
    setSel(side === "a" ? { a: id, b: m ? `g${m.b}` : null } : { a: m ? `g${m.a}` : null, b: id });
  };
  const match = comparison.matches.find((m) => sel.a === `g${m.a}` && sel.b === `g${m.b}`);
  const ga = a.groups.find((g) => `g${g.id}` === sel.a);
  const gb = b.groups.find((g) => `g${g.id}` === sel.b);
  const side = (graph: CircuitGraph, s: "a" | "b") => (
    <div className="rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-950">
      <p className="px-3 pt-2 text-sm font-medium">
        #{graph.circuit.id} {graph.circuit.className} · τ {graph.circuit.tau}
      </p>
      <CircuitCanvas
        graph={graph}
        shareToken={null}
        threshold={threshold}
        selected={sel[s]}
        onSelect={(id) => pick(s, id)}
        nodeClasses={classes[s]}
        dark={dark}
        className="h-[60vh] w-full"
        testId={`compare-${s}`}
      />
    </div>
  );
  return (
    <div className="flex flex-col gap-3">
      <label className="flex items-center gap-2 text-sm">
        Weight threshold
        <input
          type="range"
          min={0}
          max={1}
          step={0.01}
          value={threshold}
          onChange={(e) => setThreshold(Number(e.target.value))}
          aria-label="Weight threshold (fraction of each circuit's largest |W|)"
        />
        <span className="tabular-nums text-zinc-500" data-testid="compare-threshold">
          {Math.round(threshold * 100)}% of each circuit&apos;s largest |W|
        </span>
      </label>
      <div className="grid gap-4 lg:grid-cols-2">
        {side(a, "a")}
        {side(b, "b")}
      </div>
      <p className="text-sm" data-testid="compare-selection">
        {ga &&
          `${groupTitle(ga, a.circuit.layers)}: neurons ${[...new Set(ga.members.map((m) => m.neuron))].join(", ")}`}
        {ga && gb && " ↔ "}
        {gb &&
          `${groupTitle(gb, b.circuit.layers)}: neurons ${[...new Set(gb.members.map((m) => m.neuron))].join(", ")}`}
        {concept !== undefined ? (
          <ConceptSelection concept={concept} side={picked} a={ga?.id ?? null} b={gb?.id ?? null} />
        ) : (
          <>
            {match && ` · shared ${match.sharedNeurons.join(", ")} (Jaccard ${match.jaccard.toFixed(2)})`}
            {(ga || gb) && !match && " · specific to this circuit"}
          </>
        )}
      </p>
    </div>
  );
}

/** The selected group's best concept match: its strength, and whether it reaches the threshold. */
function ConceptSelection({
  concept,
  side,
  a,
  b,
}: {
  concept: ConceptPairing | null;
  side: "a" | "b";
  a: number | null;
  b: number | null;
}) {
  const best = concept?.[side].find((g) => g.id === (side === "a" ? a : b));
  if (!concept || !best) return null;
  const where = side === "a" ? "right" : "left";
  if (best.strength == null) return <> · nothing comparable on the {where}</>;
  return (
    <>
      {` · concept match ${best.strength.toFixed(2)} `}
      {best.matched
        ? `(≥ ${concept.minStrength}: present in both)`
        : `(below ${concept.minStrength}: absent on the ${where})`}
    </>
  );
}
