"use client";
/** Heatmap state of the selected group: which patches have one, the group's job, and a request (polls while a job runs). */
import type { TRPCClient } from "@trpc/client";
import { useCallback, useEffect, useState } from "react";
import type { AppRouter } from "~/server/api/root";

export interface HeatmapState {
  ready: Set<number>;
  job: { id: number; status: string; progress: number; error: string | null } | null;
  error: string | null;
  request: (() => void) | null;
}

export function useHeatmaps(
  client: TRPCClient<AppRouter>,
  circuitId: number,
  group: number | null,
  enabled: boolean,
  canRequest: boolean,
): HeatmapState {
  const [ready, setReady] = useState<Set<number>>(new Set());
  const [job, setJob] = useState<HeatmapState["job"]>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    setReady(new Set());
    setJob(null);
    setError(null);
  }, [group]);
  useEffect(() => {
    if (!enabled || group == null) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    client.heatmaps.status
      .query({ id: circuitId, group })
      .then((s) => {
        if (!live) return;
        setReady(new Set(s.ready));
        setJob(s.job);
        if (s.job && (s.job.status === "queued" || s.job.status === "running"))
          timer = setTimeout(() => setTick((t) => t + 1), 1500);
      })
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, circuitId, group, enabled, tick]);
  const request = useCallback(() => {
    if (group == null) return;
    client.heatmaps.request
      .mutate({ id: circuitId, group })
      .then(() => setTick((t) => t + 1))
      .catch((e: Error) => setError(e.message));
  }, [client, circuitId, group]);
  return { ready, job, error, request: canRequest ? request : null };
}
