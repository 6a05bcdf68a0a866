"use client";
/**
 * The viewer's faithfulness figure: the class accuracy on the circuit's images when only the
 * neurons of the groups visible at the current threshold are kept (every other neuron zeroed at
 * every layer below the logit at once), next to as many random neurons and the full model. The
 * value is looked up by the set of visible groups (the viewer's own rule, lib/circuits/visibility.ts),
 * so it is exact at any threshold the job computed; "compute" queues the job (annotators).
 */
import type { TRPCClient } from "@trpc/client";
import type { inferRouterOutputs } from "@trpc/server";
import { useCallback, useEffect, useMemo, useState } from "react";
import type { AppRouter } from "~/server/api/root";
import type { FaithfulnessResult } from "~/server/evaluations/compute";
import { visibilityKey, visibleGroupIds } from "~/lib/circuits/visibility";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";

type State = inferRouterOutputs<AppRouter>["evaluations"]["faithfulness"];

/** The configuration of a stored faithfulness series for a threshold: by the visible set, else the nearest computed threshold below. */
export function faithfulnessAt(
  result: FaithfulnessResult,
  graph: Pick<CircuitGraph, "groups" | "edges" | "logitEdges">,
  threshold: number,
) {
  const key = visibilityKey(visibleGroupIds(graph, threshold));
  const exact = result.configs.findIndex((c) => visibilityKey(c.groups) === key);
  if (exact >= 0) return { config: result.configs[exact]!, exact: true };
  const below =
    [...result.points].filter((p) => p.threshold <= threshold).sort((a, b) => b.threshold - a.threshold)[0] ??
    result.points[0];
  return below ? { config: result.configs[below.config]!, exact: false } : null;
}

export function FaithfulnessBadge({
  client,
  graph,
  threshold,
  shareToken,
}: {
  client: TRPCClient<AppRouter>;
  graph: CircuitGraph;
  threshold: number;
  shareToken: string | null;
}) {
  const [state, setState] = useState<State | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const circuitId = graph.circuit.id;
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    client.evaluations.faithfulness
      .query({ circuitId })
      .then((s) => {
        if (!live) return;
        setState(s);
        if (s.job && (s.job.status === "queued" || s.job.status === "running"))
          timer = setTimeout(() => setTick((t) => t + 1), 1500);
      })
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, circuitId, tick]);
  const compute = useCallback(() => {
    setError(null);
    client.evaluations.start
      .mutate({ circuitId, request: { kind: "faithfulness", params: {} } })
      .then(() => setTick((t) => t + 1))
      .catch((e: Error) => setError(e.message));
  }, [client, circuitId]);
  const result = state?.result?.result as FaithfulnessResult | undefined;
  const at = useMemo(() => (result ? faithfulnessAt(result, graph, threshold) : null), [result, graph, threshold]);
  const job = state?.job;
  const running = job && (job.status === "queued" || job.status === "running");
  if (error)
    return (
      <span className="text-xs text-red-600" data-testid="faithfulness">
        {error}
      </span>
    );
  if (!state) return null;
  return (
    <span
      className="flex items-center gap-2 text-sm"
      data-testid="faithfulness"
      data-value={at ? at.config.accuracy : ""}
      data-groups={at ? at.config.groups.length : ""}
    >
      {at ? (
        <span
          title={`every neuron outside the ${at.config.groups.length} visible groups zeroed at ${result!.layers.join(", ")} (${at.config.neurons.join(" / ")} neurons kept); ${result!.images} images${at.exact ? "" : "; nearest computed threshold"}`}
        >
          accuracy with only the circuit:{" "}
          <b className="tabular-nums" data-testid="faithfulness-value">
            {at.config.accuracy.toFixed(2)}
          </b>
          {at.config.random && (
            <span className="text-zinc-500">
              {" "}
              · random neurons: {at.config.random.mean.toFixed(2)} ± {at.config.random.std.toFixed(2)}
            </span>
          )}
          <span className="text-zinc-500"> · full model {result!.unmaskedAccuracy.toFixed(2)}</span>
        </span>
      ) : running ? (
        <span className="text-zinc-500">
          accuracy with only the circuit: computing… {Math.round((job.progress ?? 0) * 100)}%
        </span>
      ) : state.canStart && !shareToken ? (
        <button
          className="rounded border border-zinc-300 px-2 py-0.5 text-xs hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
          onClick={compute}
          data-testid="faithfulness-compute"
        >
          Compute accuracy with only the circuit
        </button>
      ) : (
        <span className="text-xs text-zinc-500">accuracy with only the circuit: not computed</span>
      )}
      {job?.status === "failed" && !at && <span className="text-xs text-red-600">{job.error}</span>}
    </span>
  );
}
