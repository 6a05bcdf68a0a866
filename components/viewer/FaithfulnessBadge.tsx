"use client";
/**
 * The viewer's faithfulness figure: the class logit retained on the circuit's images when only the
 * neurons of the groups visible at the current threshold are kept (every other neuron zeroed at
 * every layer below the logit at once; 0 = those layers emptied, 1 = the full network), next to
 * random neurons of the same number per layer (mean and central band of the draws), and on request
 * the whole curve over the threshold range with the current threshold marked. The value is looked up
 * by the set of visible groups (the viewer's own rule and mode, lib/circuits/visibility.ts), so it is
 * exact at any threshold the job computed; "compute" queues the job (annotators).
 */
import type { TRPCClient } from "@trpc/client";
import type { inferRouterOutputs } from "@trpc/server";
import { useCallback, useEffect, useMemo, useState } from "react";
import { FaithfulnessPlot, faithfulnessSegments } from "~/components/evaluations/plots";
import type { ThresholdMode } from "~/lib/circuits/visibility";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";
import { faithfulnessAt, isFaithfulnessCurve } from "~/lib/evaluations/faithfulness";
import type { AppRouter } from "~/server/api/root";

type State = inferRouterOutputs<AppRouter>["evaluations"]["faithfulness"];

export { faithfulnessAt };

export function FaithfulnessBadge({
  client,
  graph,
  threshold,
  mode = "global",
  shareToken,
}: {
  client: TRPCClient<AppRouter>;
  graph: CircuitGraph;
  threshold: number;
  mode?: ThresholdMode;
  shareToken: string | null;
}) {
  const [curveOpen, setCurveOpen] = useState(false);
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
  const stored = state?.result?.result;
  const result = isFaithfulnessCurve(stored) ? stored : undefined;
  const at = useMemo(
    () => (result ? faithfulnessAt(result, graph, threshold, mode) : null),
    [result, graph, threshold, mode],
  );
  const segments = useMemo(() => (result ? faithfulnessSegments(result, mode) : []), [result, mode]);
  const job = state?.job;
  const running = job && (job.status === "queued" || job.status === "running");
  if (error)
    return (
      <span className="min-h-7 basis-full text-xs text-red-600" data-testid="faithfulness">
        {error}
      </span>
    );
  if (!state) return <span className="min-h-7 basis-full" data-testid="faithfulness-pending" />;
  const value = at?.config.logitRetained;
  const rnd = at?.config.random;
  const beats = rnd && value != null ? rnd.draws - rnd.atLeast : null;
  return (
    <>
      <span
        className="flex min-h-7 basis-full flex-wrap items-center gap-2 text-sm"
        data-testid="faithfulness"
        data-value={value ?? ""}
        data-groups={at ? at.config.groups.length : ""}
      >
        {at && result ? (
          <>
            <span
              title={`class logit with every neuron outside the ${at.config.groups.length} visible groups zeroed at ${result.layers.join(", ")} (${at.config.neurons.join(" / ")} neurons kept), as a share of the way from those layers emptied (${result.empty.logit.toFixed(2)}) to the full network (${result.full.logit.toFixed(2)}); ${result.images} images; accuracy ${at.config.accuracy.toFixed(2)} (full network ${result.full.accuracy.toFixed(2)}, emptied ${result.empty.accuracy.toFixed(2)})${at.exact ? "" : "; nearest computed threshold"}`}
            >
              logit retained with only the circuit:{" "}
              <b className="tabular-nums" data-testid="faithfulness-value">
                {value == null ? "—" : value.toFixed(2)}
              </b>
              {rnd && (
                <span className="text-zinc-500" data-testid="faithfulness-random">
                  {" "}
                  · random sets of {at.config.neurons.join("/")} neurons: {rnd.mean.toFixed(2)} [{rnd.low.toFixed(2)},{" "}
                  {rnd.high.toFixed(2)}] · beats {beats}/{rnd.draws}
                </span>
              )}
            </span>
            <button
              type="button"
              className="rounded border border-zinc-300 px-2 py-0.5 text-xs hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
              aria-expanded={curveOpen}
              aria-controls="faithfulness-curve"
              onClick={() => setCurveOpen((o) => !o)}
              data-testid="faithfulness-curve-toggle"
            >
              {curveOpen ? "Hide curve" : "Curve"}
            </button>
          </>
        ) : running ? (
          <span className="text-zinc-500">
            logit retained with only the circuit: computing… {Math.round((job.progress ?? 0) * 100)}%
          </span>
        ) : state.canStart && !shareToken ? (
          <button
            className="rounded border border-zinc-300 px-2 py-0.5 text-xs hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
            onClick={compute}
            data-testid="faithfulness-compute"
          >
            {stored ? "Recompute the faithfulness curve (stored one is outdated)" : "Compute the faithfulness curve"}
          </button>
        ) : (
          <span className="text-xs text-zinc-500">faithfulness: not computed</span>
        )}
        {job?.status === "failed" && !at && <span className="text-xs text-red-600">{job.error}</span>}
      </span>
      {curveOpen && result && (
        <div
          id="faithfulness-curve"
          className="basis-full rounded border border-zinc-200 bg-white p-2 dark:border-zinc-800"
          data-testid="faithfulness-curve"
        >
          <FaithfulnessPlot result={result} mode={mode} threshold={threshold} />
          <p className="mt-1 text-xs text-zinc-500">
            {mode === "global" ? "Global thresholds" : "Per-layer thresholds"} (the slider&apos;s mode). Kept: the
            visible groups&apos; neurons in {result.layers.slice(0, -1).join(", ")} and their core neurons in{" "}
            {result.layers.at(-1)}; everything else there is zeroed. 0 = those layers emptied, 1 = the full network.
            Band: the central {Math.round(result.interval * 100)}% of {result.draws} random neuron sets of the same size
            per layer. Above the band, the kept circuit explains more of the class logit than chance; where the curve
            drops, the threshold removes neurons the class needs.
          </p>
          {segments.length === 1 && (
            <p className="mt-1 text-xs text-amber-700 dark:text-amber-400" data-testid="faithfulness-flat">
              Every threshold keeps the same {segments[0]!.neurons.join(" / ")} neurons: the strongest group of each
              layer already holds them all, so on this circuit the threshold changes the drawing, not the circuit that
              is kept — any threshold is as faithful as 0.
            </p>
          )}
        </div>
      )}
    </>
  );
}
