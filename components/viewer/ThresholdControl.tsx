"use client";
/**
 * The viewer's weight threshold: a slider (fraction 0..1) and how it is read — of the circuit's
 * largest |W| ("global") or of each layer's largest |W| ("per layer"; lib/circuits/visibility.ts),
 * with the count of edges it leaves.
 */
import { useMemo } from "react";
import { maxAbsWeight } from "~/lib/circuits/svg";
import { type ThresholdMode, visibleEdgeIds } from "~/lib/circuits/visibility";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";

export function ThresholdControl({
  graph,
  threshold,
  mode,
  onThreshold,
  onMode,
}: {
  graph: CircuitGraph;
  threshold: number;
  mode: ThresholdMode;
  onThreshold: (t: number) => void;
  onMode: (m: ThresholdMode) => void;
}) {
  const visibleEdges = useMemo(() => visibleEdgeIds(graph, threshold, mode).length, [graph, threshold, mode]);
  const of = mode === "global" ? "the largest |W|" : "each layer's largest |W|";
  return (
    <span className="flex flex-wrap items-center gap-2">
      <label className="flex items-center gap-2">
        <span>Weight threshold</span>
        <input
          type="range"
          min={0}
          max={1}
          step={0.01}
          value={threshold}
          data-testid="threshold"
          aria-label={`Weight threshold (fraction of ${of})`}
          onChange={(e) => onThreshold(Number(e.target.value))}
        />
      </label>
      <select
        className="rounded border border-zinc-300 bg-transparent px-1 py-0.5 text-xs dark:border-zinc-700"
        value={mode}
        data-testid="threshold-mode"
        aria-label="What the threshold is a fraction of"
        title="global: a fraction of the circuit's largest |W|; per layer: of the largest |W| of each layer's edges"
        onChange={(e) => onMode(e.target.value === "perLayer" ? "perLayer" : "global")}
      >
        <option value="global">of the largest |W|</option>
        <option value="perLayer">of each layer&apos;s largest |W|</option>
      </select>
      <span className="tabular-nums sm:w-52" data-testid="edge-count">
        {mode === "global"
          ? `|W| ≥ ${(threshold * maxAbsWeight(graph)).toFixed(3)}`
          : `${Math.round(threshold * 100)}% per layer`}{" "}
        · {visibleEdges}/{graph.edges.length} edges
      </span>
    </span>
  );
}
