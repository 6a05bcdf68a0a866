"use client";
/**
 * The circuit viewer: the Cytoscape concept graph, the weight-threshold slider, the detail panel,
 * the hypertree drill-down, export (JSON, PNG, SVG of the current view), share links, keyboard
 * (arrows move between connected nodes, Esc closes) and dark mode following the system.
 * Used by the signed-in page and, read-only, by the share page (`shareToken` set: the share page's
 * tRPC provider sends the token in a header, and the image URLs carry it in a query parameter).
 */
import type { Core } from "cytoscape";
import { useQuery } from "@tanstack/react-query";
import { useCallback, useMemo, useRef, useState } from "react";
import type { ThresholdMode } from "~/lib/circuits/visibility";
import type { CircuitGraph, ViewState } from "~/lib/circuits/viewTypes";
import { useTRPC, useTRPCClient } from "~/trpc/react";
import { CircuitCanvas, fitPositions, type Viewport } from "./CircuitCanvas";
import { DetailPanel } from "./DetailPanel";
import { FaithfulnessBadge } from "./FaithfulnessBadge";
import { HypertreePane } from "./HypertreePane";
import { withCurrentLabels } from "./liveLabels";
import { ShareDialog } from "./ShareDialog";
import { ThresholdControl } from "./ThresholdControl";
import { useHeatmaps } from "./useHeatmaps";
import { useSystemDark } from "./useSystemDark";
import {
  type Drill,
  useAddressSync,
  useFocusAfterSelection,
  useHypertree,
  useViewerExports,
  useViewerKeyboard,
} from "./viewerHooks";

export interface CircuitViewerProps {
  graph: CircuitGraph;
  initialView: ViewState;
  /** Set on the share page. */
  shareToken: string | null;
  /** Signed-in users can create and revoke share links. */
  canShare: boolean;
  /** Where "Export JSON" downloads the circuit document (signed-in users); null: the view's graph JSON. */
  documentHref: string | null;
}

declare global {
  interface Window {
    /** performance.now() when the graph was first drawn (read by the e2e tests and the bench). */
    __viewerReady?: number;
    __viewerCy?: Core;
  }
}

/** One sentence naming the selected node or edge. */
function announce(graph: CircuitGraph, selected: string | null): string {
  if (!selected) return "";
  if (selected === "logit") return `Selected: the class logit of ${graph.circuit.className}.`;
  const layers = graph.circuit.layers;
  if (selected.startsWith("g")) {
    const g = graph.groups.find((x) => x.id === Number(selected.slice(1)));
    return g
      ? `Selected: ${layers[g.layer] ?? ""} group ${g.groupId}${g.label ? `, ${g.label}` : ""}, ${new Set(g.members.map((m) => m.neuron)).size} neurons.`
      : "";
  }
  const e = graph.edges.find((x) => `e${x.id}` === selected);
  return e ? `Selected: an edge of weight ${e.weight.toFixed(3)}.` : "";
}

export function CircuitViewer({ graph, initialView, shareToken, canShare, documentHref }: CircuitViewerProps) {
  const dark = useSystemDark();
  const [selected, setSelected] = useState<string | null>(initialView.selected);
  const [threshold, setThreshold] = useState(initialView.threshold);
  const [thresholdMode, setThresholdMode] = useState<ThresholdMode>(initialView.thresholdMode ?? "global");
  const [drill, setDrill] = useState<Drill | null>(null);
  const [shareOpen, setShareOpen] = useState(false);
  const [heatmapsOn, setHeatmapsOn] = useState(initialView.heatmaps);
  const viewport = useRef<Viewport | null>(
    initialView.zoom != null && initialView.pan
      ? { zoom: initialView.zoom, pan: initialView.pan, canvas: initialView.canvas ?? null }
      : null,
  );
  const cyRef = useRef<Core | null>(null);
  const [ready, setReady] = useState(false);
  const [, force] = useState(0);

  // the provider's client: on the share page it carries the link's token
  const client = useTRPCClient();

  // labels and explanations as they are now: edits made while the page is open show on the graph
  const trpc = useTRPC();
  const current = useQuery(trpc.labels.forCircuit.queryOptions({ circuitId: graph.circuit.id }, { retry: false })).data;
  const live = useMemo(() => withCurrentLabels(graph, current), [graph, current]);

  const selectedGroup = selected?.startsWith("g") ? Number(selected.slice(1)) : null;
  const heat = useHeatmaps(
    client,
    graph.circuit.id,
    selectedGroup,
    heatmapsOn && graph.circuit.hasImages,
    shareToken == null,
  );

  const { tree, treeError } = useHypertree(client, graph.circuit.id, drill);

  const onReady = useCallback((cy: Core) => {
    cyRef.current = cy;
    window.__viewerCy = cy;
    cy.one("render", () => {
      window.__viewerReady ??= performance.now();
      setReady(true);
    });
  }, []);

  const onViewport = useCallback((v: Viewport) => {
    viewport.current = v;
  }, []);

  const panelRef = useRef<HTMLDivElement>(null);
  const select = useCallback((id: string | null) => {
    setSelected(id);
    if (id == null) setDrill(null);
    // one column (phones, narrow windows): the panel sits below the graph, so bring it into view
    const panel = panelRef.current;
    if (id && panel && panel.getBoundingClientRect().top >= window.innerHeight)
      requestAnimationFrame(() => panel.scrollIntoView({ behavior: "smooth", block: "start" }));
  }, []);

  const viewerRef = useRef<HTMLDivElement>(null);
  useFocusAfterSelection(selected, panelRef, viewerRef);

  useAddressSync(selected, threshold, shareToken, thresholdMode);

  useViewerKeyboard(cyRef, selected, drill, setDrill, select);

  const viewState = (): ViewState => {
    const cy = cyRef.current;
    return {
      selected,
      threshold,
      thresholdMode,
      zoom: cy ? cy.zoom() : (viewport.current?.zoom ?? null),
      pan: cy ? cy.pan() : (viewport.current?.pan ?? null),
      heatmaps: heatmapsOn,
      canvas: cy ? { width: Math.round(cy.width()), height: Math.round(cy.height()) } : null,
    };
  };

  const { exportPng, exportSvg, exportJson } = useViewerExports({
    cyRef,
    graph,
    live,
    selected,
    dark,
    shareToken,
    documentHref,
    viewState,
  });

  const btn =
    "rounded border border-zinc-300 px-2 py-1 text-sm hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800";
  return (
    <div ref={viewerRef} className="flex flex-col gap-3" data-testid="viewer" data-ready={ready ? "1" : "0"}>
      <div className="flex flex-wrap items-center gap-3 text-sm">
        <ThresholdControl
          graph={graph}
          threshold={threshold}
          mode={thresholdMode}
          onThreshold={setThreshold}
          onMode={setThresholdMode}
        />
        <span className="flex-1" />
        <button className={btn} onClick={exportJson} data-testid="export-json">
          JSON
        </button>
        <button className={btn} onClick={exportPng} data-testid="export-png">
          PNG
        </button>
        <button className={btn} onClick={() => void exportSvg()} data-testid="export-svg">
          SVG
        </button>
        <button className={btn} onClick={() => cyRef.current && fitPositions(cyRef.current, graph)}>
          Fit
        </button>
        {canShare && (
          <button
            className={btn}
            onClick={() => setShareOpen((o) => !o)}
            aria-expanded={shareOpen}
            aria-controls="share-dialog"
            data-testid="share-open"
          >
            Share…
          </button>
        )}
        {/* its own row, reserved before it loads, so its arrival moves nothing below */}
        <FaithfulnessBadge
          client={client}
          graph={graph}
          threshold={threshold}
          mode={thresholdMode}
          shareToken={shareToken}
        />
      </div>
      {/* what is selected, for screen readers (the graph itself is a canvas) */}
      <p className="sr-only-live" aria-live="polite" data-testid="selection-announcement">
        {announce(live, selected)}
      </p>
      {shareOpen && canShare && (
        <ShareDialog circuitId={graph.circuit.id} viewState={viewState} onChange={() => force((x) => x + 1)} />
      )}
      <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_26rem]">
        <div className="relative rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-950">
          <CircuitCanvas
            graph={graph}
            live={live}
            shareToken={shareToken}
            threshold={threshold}
            thresholdMode={thresholdMode}
            selected={selected}
            onSelect={select}
            initialViewport={viewport.current}
            onViewport={onViewport}
            dark={dark}
            onReady={onReady}
            className="h-[60vh] w-full sm:h-[70vh]"
          />
          <p className="pointer-events-none absolute bottom-2 left-3 hidden text-xs text-zinc-500 sm:block">
            Hover: paths through a node · click a node or an edge: details and explanations (✎ marks explained edges) ·
            ← ↑ → ↓ move · Esc closes · blue solid W &gt; 0, red dotted W &lt; 0
          </p>
        </div>
        <div
          ref={panelRef}
          className="max-h-[75vh] overflow-y-auto rounded-lg border border-zinc-200 bg-white p-3 dark:border-zinc-800 dark:bg-zinc-900"
        >
          {selected ? (
            <DetailPanel
              graph={live}
              selected={selected}
              shareToken={shareToken}
              readOnly={shareToken != null}
              onSelect={select}
              onDrill={(layer, neuron) => setDrill({ layer, neuron })}
              heatmaps={{ on: heatmapsOn, toggle: setHeatmapsOn, ...heat }}
            />
          ) : (
            <p className="text-sm text-zinc-500">
              Click a node to see its neurons, concept patches and strongest connections.
            </p>
          )}
        </div>
      </div>
      {drill && (
        <HypertreePane
          graph={live}
          drill={drill}
          tree={tree}
          error={treeError}
          shareToken={shareToken}
          onDrill={setDrill}
          onSelectGroup={(id) => select(`g${id}`)}
        />
      )}
    </div>
  );
}
