"use client";
/**
 * The circuit viewer's behaviours, one hook each: the hypertree of the drilled-into neuron, focus
 * after a selection change, the address bar following the view, the keyboard, and the exports.
 * `CircuitViewer` holds the state and lays out the page.
 */
import type { TRPCClient } from "@trpc/client";
import type { Core, NodeSingular } from "cytoscape";
import { type RefObject, useEffect, useRef, useState } from "react";
import { circuitSvg } from "~/lib/circuits/svg";
import type { ThresholdMode } from "~/lib/circuits/visibility";
import { imageUrls, type CircuitGraph, type Hypertree, type ViewState } from "~/lib/circuits/viewTypes";
import { downloadBlob } from "~/components/evaluations/exportPlot";
import type { AppRouter } from "~/server/api/root";

export interface Drill {
  layer: number;
  neuron: number;
}

/** The hypertree of the neuron drilled into (null while none is, or while it loads), and the error of its query. */
export function useHypertree(
  client: TRPCClient<AppRouter>,
  circuitId: number,
  drill: Drill | null,
): { tree: Hypertree | null; treeError: string | null } {
  const [tree, setTree] = useState<Hypertree | null>(null);
  const [treeError, setTreeError] = useState<string | null>(null);
  useEffect(() => {
    if (!drill) return setTree(null);
    let live = true;
    setTreeError(null);
    client.circuitGraph.hypertree
      .query({ id: circuitId, layer: drill.layer, neuron: drill.neuron })
      .then((t) => live && setTree(t))
      .catch((e: Error) => live && setTreeError(e.message));
    return () => {
      live = false;
    };
  }, [drill, client, circuitId]);
  return { tree, treeError };
}

/**
 * Keyboard users: when a selection change removed the focused control (a neighbour button, Close,
 * Esc), focus goes to the new panel's heading, or back to the graph, instead of the page's start.
 */
export function useFocusAfterSelection(
  selected: string | null,
  panelRef: RefObject<HTMLDivElement | null>,
  viewerRef: RefObject<HTMLDivElement | null>,
): void {
  const firstSelection = useRef(true);
  useEffect(() => {
    if (firstSelection.current) {
      firstSelection.current = false; // the page's own load keeps the browser's focus order
      return;
    }
    const frame = requestAnimationFrame(() => {
      const active = document.activeElement;
      if (active && active !== document.body) return;
      const heading = panelRef.current?.querySelector<HTMLElement>("h2");
      const target =
        selected && heading ? heading : viewerRef.current?.querySelector<HTMLElement>("[role=application]");
      if (!target) return;
      if (target === heading) target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: true });
    });
    return () => cancelAnimationFrame(frame);
  }, [selected]);
}

/** Signed-in page: keeps `?node=&t=&tm=` in the address so a copied URL reopens the same node and threshold. */
export function useAddressSync(
  selected: string | null,
  threshold: number,
  shareToken: string | null,
  thresholdMode: ThresholdMode = "global",
): void {
  useEffect(() => {
    if (shareToken) return;
    const u = new URL(window.location.href);
    if (selected) u.searchParams.set("node", selected);
    else u.searchParams.delete("node");
    if (threshold > 0) u.searchParams.set("t", String(threshold));
    else u.searchParams.delete("t");
    if (thresholdMode === "perLayer") u.searchParams.set("tm", "layer");
    else u.searchParams.delete("tm");
    if (u.href !== window.location.href) window.history.replaceState(window.history.state, "", u.href);
  }, [selected, threshold, shareToken, thresholdMode]);
}

/** Keyboard: arrows between connected nodes, Esc closes the hypertree, then the panel. */
export function useViewerKeyboard(
  cyRef: RefObject<Core | null>,
  selected: string | null,
  drill: Drill | null,
  setDrill: (d: Drill | null) => void,
  select: (id: string | null) => void,
): void {
  useEffect(() => {
    const onKey = (ev: KeyboardEvent) => {
      // browser shortcuts (Alt+← is Back) and typing in fields are not ours
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const tag = (ev.target as HTMLElement | null)?.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
      if (ev.key === "Escape") {
        if (drill) setDrill(null);
        else select(null);
        return;
      }
      const cy = cyRef.current;
      if (!cy || !["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(ev.key)) return;
      ev.preventDefault();
      const visible = (cy.nodes().toArray() as NodeSingular[]).filter((n) => !n.hasClass("hidden"));
      const cur = selected ? cy.getElementById(selected) : null;
      if (!cur || cur.empty() || cur.hasClass("hidden")) {
        select("logit");
        return;
      }
      const strongest = (edges: cytoscape.EdgeCollection, end: "source" | "target"): NodeSingular | null => {
        const es = edges
          .filter((e) => !e.hasClass("hidden"))
          .sort((a, b) => Math.abs(b.data("weight") as number) - Math.abs(a.data("weight") as number));
        const e = es[0];
        return e ? (end === "source" ? e.source() : e.target()) : null;
      };
      let next: NodeSingular | null = null;
      if (selected?.startsWith("e")) {
        // from a selected edge: up to its parent, down to its child
        const edge = cur as unknown as cytoscape.EdgeSingular;
        if (ev.key === "ArrowUp") select(edge.target().id());
        else if (ev.key === "ArrowDown") select(edge.source().id());
        return;
      }
      if (ev.key === "ArrowUp") next = strongest((cur as NodeSingular).outgoers("edge"), "target");
      else if (ev.key === "ArrowDown") next = strongest((cur as NodeSingular).incomers("edge"), "source");
      else {
        const y = (cur as NodeSingular).position("y");
        const rank = visible.filter((n) => n.position("y") === y).sort((a, b) => a.position("x") - b.position("x"));
        const i = rank.findIndex((n) => n.id() === cur.id());
        next = (rank[ev.key === "ArrowLeft" ? i - 1 : i + 1] as NodeSingular | undefined) ?? null;
      }
      if (next) select(next.id());
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [selected, drill, select]);
}

async function asDataUri(url: string): Promise<string | null> {
  try {
    const r = await fetch(url);
    if (!r.ok) return null;
    const b = await r.blob();
    return await new Promise<string>((res, rej) => {
      const fr = new FileReader();
      fr.onload = () => res(fr.result as string);
      fr.onerror = () => rej(fr.error);
      fr.readAsDataURL(b);
    });
  } catch {
    return null;
  }
}

export interface ViewerExportSource {
  cyRef: RefObject<Core | null>;
  graph: CircuitGraph;
  /** The graph with the current labels (what the SVG draws). */
  live: CircuitGraph;
  selected: string | null;
  dark: boolean;
  shareToken: string | null;
  documentHref: string | null;
  viewState: () => ViewState;
}

/** Export of the current view: PNG (the canvas), SVG (drawn from the stored positions, mosaics inlined), JSON. */
export function useViewerExports({
  cyRef,
  graph,
  live,
  selected,
  dark,
  shareToken,
  documentHref,
  viewState,
}: ViewerExportSource) {
  const base = `circuit-${graph.circuit.id}-${graph.circuit.className.replace(/[^A-Za-z0-9_.-]/g, "_")}`;

  const exportPng = () => {
    const cy = cyRef.current;
    if (!cy) return;
    const blob = cy.png({ output: "blob", scale: 2, full: false, bg: dark ? "#09090b" : "#ffffff" }) as unknown as Blob;
    downloadBlob(`${base}.png`, blob);
  };
  const exportSvg = async () => {
    const cy = cyRef.current;
    if (!cy) return;
    const visible = new Set<string>(
      cy
        .elements()
        .filter((e) => !e.hasClass("hidden"))
        .map((e) => e.id()),
    );
    const images = new Map<number, string>();
    if (graph.circuit.hasImages) {
      const urls = imageUrls(graph.circuit.id, shareToken);
      await Promise.all(
        graph.groups
          .filter((g) => visible.has(`g${g.id}`))
          .map(async (g) => {
            const d = await asDataUri(urls.mosaic(g.id));
            if (d) images.set(g.id, d);
          }),
      );
    }
    const ext = cy.extent();
    const svg = circuitSvg(live, {
      width: cy.width(),
      height: cy.height(),
      extent: { x1: ext.x1, y1: ext.y1, x2: ext.x2, y2: ext.y2 },
      visible,
      selected,
      dark,
      images,
    });
    downloadBlob(`${base}.svg`, new Blob([svg], { type: "image/svg+xml" }));
  };
  const exportJson = () => {
    if (documentHref) {
      window.location.href = documentHref;
      return;
    }
    downloadBlob(
      `${base}-view.json`,
      new Blob([JSON.stringify({ format: "neurflow-view/1", view: viewState(), graph }, null, 1)], {
        type: "application/json",
      }),
    );
  };
  return { exportPng, exportSvg, exportJson };
}
