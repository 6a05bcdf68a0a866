"use client";
/**
 * A neuron group's concept patches in the detail panel, each with the activation it was chosen for
 * (the strongest member neuron's, stored with the circuit) and, with the IG heatmaps on, its
 * overlay. Clicking a patch opens its context (`PatchContext`): the source image with the crop's
 * box, its granularity, and the group's metric M over all of the circuit's patches with this
 * patch marked.
 */
import type { TRPCClient } from "@trpc/client";
import { useCallback, useEffect, useState } from "react";
import { imageUrls, type CircuitGraph, type GraphGroup, type GroupPatchContext } from "~/lib/circuits/viewTypes";
import type { AppRouter } from "~/server/api/root";
import { useTRPCClient } from "~/trpc/react";
import { fmtActivation, PatchContext } from "./PatchContext";
import type { HeatmapState } from "./useHeatmaps";

/** The group's patch context; polls while its activations job runs. */
export function usePatchContext(client: TRPCClient<AppRouter>, circuitId: number, group: number) {
  const [ctx, setCtx] = useState<GroupPatchContext | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    setCtx(null);
    setError(null);
  }, [group]);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    client.patchContext.get
      .query({ id: circuitId, group })
      .then((c) => {
        if (!live) return;
        setCtx(c);
        if (c.job && (c.job.status === "queued" || c.job.status === "running"))
          timer = setTimeout(() => setTick((t) => t + 1), 1500);
      })
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, circuitId, group, tick]);
  const request = useCallback(() => {
    client.patchContext.request
      .mutate({ id: circuitId })
      .then(() => setTick((t) => t + 1))
      .catch((e: Error) => setError(e.message));
  }, [client, circuitId]);
  return { ctx, error, request };
}

interface Props {
  graph: CircuitGraph;
  group: GraphGroup;
  shareToken: string | null;
  heatmaps: HeatmapState & { on: boolean };
}

export function ConceptPatches({ graph, group, shareToken, heatmaps }: Props) {
  // the provider's client: on the share page it carries the link's token
  const client = useTRPCClient();
  const urls = imageUrls(graph.circuit.id, shareToken);
  const side = Math.max(64, Math.min(graph.circuit.inputSize, 224));
  const { ctx, error, request } = usePatchContext(client, graph.circuit.id, group.id);
  const [open, setOpen] = useState<number | null>(null);
  useEffect(() => setOpen(null), [group.id]);
  const info = new Map((ctx?.patches ?? []).map((p) => [p.patch, p]));
  const layer = graph.circuit.layers[group.layer];
  return (
    <>
      {error && <p className="text-xs text-red-600">{error}</p>}
      <div className="mt-1 flex flex-wrap gap-1">
        {group.patches.map((p) => {
          const a = info.get(p);
          return (
            <button
              key={p}
              type="button"
              className="flex flex-col items-center rounded hover:ring-2 hover:ring-blue-400 focus:outline-none focus:ring-2 focus:ring-blue-500"
              onClick={() => setOpen(p)}
              data-testid="patch-open"
              aria-label={`patch ${p}${a?.activation != null ? `, activation ${fmtActivation(a.activation)}` : ""}: show it in its image`}
            >
              <span className="relative inline-block" style={{ width: side, height: side }}>
                <img
                  data-testid="patch"
                  src={urls.patch(p)}
                  alt={`patch ${p}`}
                  width={side}
                  height={side}
                  loading="lazy"
                  style={{ imageRendering: graph.circuit.inputSize < side ? "pixelated" : "auto" }}
                  className="rounded"
                />
                {heatmaps.on && heatmaps.ready.has(p) && (
                  <img
                    data-testid="heatmap"
                    src={urls.heatmap(group.id, p)}
                    alt=""
                    width={side}
                    height={side}
                    className="absolute inset-0 rounded"
                    style={{ imageRendering: "pixelated" }}
                  />
                )}
              </span>
              <span
                className="text-xs tabular-nums text-zinc-600 dark:text-zinc-400"
                data-testid="patch-activation"
                title={
                  a?.neuron != null ? `activation of ${layer}:${a.neuron} (spatial mean of the channel)` : undefined
                }
              >
                {a?.activation != null ? `a ${fmtActivation(a.activation)}` : "\u00a0"}
              </span>
            </button>
          );
        })}
      </div>
      {open != null && ctx && info.get(open) && (
        <PatchContext
          graph={graph}
          group={group}
          ctx={ctx}
          patch={info.get(open)!}
          shareToken={shareToken}
          onRequest={shareToken == null && ctx.canCompute ? request : null}
          onClose={() => setOpen(null)}
        />
      )}
    </>
  );
}
