"use client";
/**
 * The concept graph drawn with Cytoscape (used directly): stored positions with the preset layout,
 * one rank per layer with the class logit on top, a node per neuron group showing its mosaic,
 * edges by |W| (width) and sign (colour). The weight threshold hides weak edges and the nodes left
 * without a visible edge; hovering a node highlights every path through it. Labels are drawn by
 * Cytoscape on the canvas (text, never markup). An edge with an explanation (how the child group
 * builds the parent) is drawn straight with a marker; its explanation's first line appears on it
 * while a path through it is highlighted or the edge is selected, and clicking it opens it.
 */
import cytoscape, { type Core, type ElementDefinition, type NodeSingular, type StylesheetJson } from "cytoscape";
import { useEffect, useRef } from "react";
import { edgeWidth, groupTitle, LOGIT_SIZE, maxAbsWeight, NODE_SIZE, THEME } from "~/lib/circuits/svg";
import { type ThresholdMode, visibleEdgeIds, visibleGroupIds } from "~/lib/circuits/visibility";
import { imageUrls, type CircuitGraph } from "~/lib/circuits/viewTypes";

export interface Viewport {
  zoom: number;
  pan: { x: number; y: number };
  /** The canvas size this zoom and pan were made on: replayed only on a canvas of the same size (±2 px), else the graph is fitted. */
  canvas?: { width: number; height: number } | null;
}

/** Whether a saved viewport suits this canvas: made on the same size, or of unknown origin (the page's own state). */
export function viewportFits(v: Viewport, width: number, height: number): boolean {
  if (v.canvas === undefined) return true;
  return v.canvas != null && Math.abs(v.canvas.width - width) <= 2 && Math.abs(v.canvas.height - height) <= 2;
}

export interface CircuitCanvasProps {
  graph: CircuitGraph;
  shareToken: string | null;
  threshold: number;
  /** How the threshold is read (lib/circuits/visibility.ts); default global. */
  thresholdMode?: ThresholdMode;
  selected: string | null;
  onSelect: (id: string | null) => void;
  initialViewport?: Viewport | null;
  onViewport?: (v: Viewport) => void;
  /** The same graph with the labels and explanations as they are now (see liveLabels.ts); drawn without rebuilding the canvas. */
  live?: CircuitGraph;
  /** Extra classes per node id (the compare page marks shared / specific groups). */
  nodeClasses?: Map<string, string>;
  dark: boolean;
  onReady?: (cy: Core) => void;
  className?: string;
  testId?: string;
}

function stylesheet(dark: boolean): StylesheetJson {
  const t = dark ? THEME.dark : THEME.light;
  return [
    {
      selector: "node",
      style: {
        shape: "round-rectangle",
        width: NODE_SIZE,
        height: NODE_SIZE,
        "background-color": t.node,
        "background-image": "data(img)",
        "background-fit": "cover",
        "background-clip": "node",
        "border-width": 2,
        "border-color": t.border,
        label: "data(label)",
        "font-size": 10,
        color: t.muted,
        "text-valign": "bottom",
        "text-margin-y": 4,
        "text-max-width": "120px",
        "text-wrap": "ellipsis",
        "min-zoomed-font-size": 7,
      },
    },
    { selector: "node[!img]", style: { "background-image": "none" } },
    {
      selector: "node.logit",
      style: {
        shape: "ellipse",
        width: LOGIT_SIZE,
        height: LOGIT_SIZE,
        "background-color": t.logit,
        color: t.text,
        "font-weight": "bold",
        "font-size": 12,
      },
    },
    // haystack: straight lines without endpoint geometry, Cytoscape's cheapest edges (large circuits)
    {
      selector: "edge",
      style: { width: "data(w)", "curve-style": "haystack", "haystack-radius": 0, opacity: 0.7, "line-color": t.pos },
    },
    // negative W: red and dotted, so the sign does not rest on colour alone
    { selector: "edge.neg", style: { "line-color": t.neg, "line-style": "dotted" } },
    { selector: "edge.logitEdge", style: { "line-color": t.logit, "line-style": "dashed" } },
    { selector: "node.sel", style: { "border-width": 5, "border-color": t.selected } },
    // explained edges: straight (haystack edges carry no labels), a marker always, the text when in focus
    {
      selector: "edge.explained",
      style: {
        "curve-style": "straight",
        label: "✎",
        "font-size": 11,
        color: t.text,
        "text-background-color": t.node,
        "text-background-opacity": 0.9,
        "text-background-padding": "2px",
        "text-rotation": "none",
        "min-zoomed-font-size": 6,
      },
    },
    {
      selector: "edge.explained.hl, edge.explained.sel",
      style: { label: "data(expl)", "font-size": 10, "text-max-width": "180px", "text-wrap": "ellipsis" },
    },
    { selector: "edge.sel", style: { opacity: 1, "line-color": t.selected, "z-index": 20 } },
    { selector: "node.shared", style: { "border-color": "#16a34a", "border-width": 4 } },
    // compare: groups of one circuit only get a dashed border as well as amber
    { selector: "node.specific", style: { "border-color": "#f59e0b", "border-width": 4, "border-style": "dashed" } },
    { selector: ".faded", style: { opacity: 0.12 } },
    { selector: "edge.hl", style: { opacity: 1, "z-index": 10 } },
    { selector: ".hidden", style: { display: "none" } },
  ];
}

/** The first line of an explanation, shortened for drawing on an edge. */
export function explanationLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim()) ?? "";
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

export function graphElements(graph: CircuitGraph): ElementDefinition[] {
  const maxW = maxAbsWeight(graph);
  const els: ElementDefinition[] = [
    {
      group: "nodes",
      data: { id: "logit", label: graph.circuit.className },
      position: { ...graph.logit },
      classes: "logit",
    },
  ];
  for (const g of graph.groups)
    els.push({
      group: "nodes",
      data: { id: `g${g.id}`, label: groupTitle(g, graph.circuit.layers), rank: g.layer },
      position: { x: g.x, y: g.y },
    });
  for (const e of graph.logitEdges)
    els.push({
      group: "edges",
      data: { id: `l${e.group}`, source: `g${e.group}`, target: "logit", w: 1 + 4 * e.weight, weight: e.weight },
      classes: "logitEdge",
    });
  for (const e of graph.edges)
    els.push({
      group: "edges",
      data: {
        id: `e${e.id}`,
        source: `g${e.source}`,
        target: `g${e.target}`,
        w: edgeWidth(e.weight, maxW),
        weight: e.weight,
        ...(e.explanation ? { expl: explanationLine(e.explanation) } : {}),
      },
      classes: [e.weight < 0 ? "neg" : "", e.explanation ? "explained" : ""].filter(Boolean).join(" "),
    });
  return els;
}

/**
 * Applies the threshold: hides group edges with |W| below it, then the nodes left without a visible
 * edge (the rule of `visibleGroupIds`). Computed on the graph's arrays; only elements whose state
 * changes are touched, so the call on mount (nothing hidden yet at threshold 0) costs nothing.
 */
export function applyThreshold(cy: Core, graph: CircuitGraph, threshold: number, mode: ThresholdMode = "global"): void {
  const visibleEdges = new Set(visibleEdgeIds(graph, threshold, mode));
  const visibleGroups = new Set(visibleGroupIds(graph, threshold, mode));
  const hide = new Set<string>();
  for (const e of graph.edges) if (!visibleEdges.has(e.id)) hide.add(`e${e.id}`);
  for (const g of graph.groups) if (!visibleGroups.has(g.id)) hide.add(`g${g.id}`);
  cy.batch(() => {
    cy.$(".hidden").forEach((el) => {
      if (!hide.has(el.id())) el.removeClass("hidden");
    });
    for (const id of hide) {
      const el = cy.getElementById(id);
      if (!el.hasClass("hidden")) el.addClass("hidden");
    }
  });
}

/**
 * Fits the stored positions into the view without asking Cytoscape for bounding boxes (which
 * measures every label: a noticeable part of the first draw of a 500-node circuit).
 */
export function fitPositions(cy: Core, graph: CircuitGraph, pad = 24): void {
  const xs = [graph.logit.x, ...graph.groups.map((g) => g.x)];
  const ys = [graph.logit.y, ...graph.groups.map((g) => g.y)];
  const half = NODE_SIZE / 2;
  const x1 = Math.min(...xs) - half;
  const x2 = Math.max(...xs) + half;
  const y1 = Math.min(...ys) - half;
  const y2 = Math.max(...ys) + half + 16;
  const w = Math.max(1, cy.width() - 2 * pad);
  const h = Math.max(1, cy.height() - 2 * pad);
  const zoom = Math.min(cy.maxZoom(), Math.max(cy.minZoom(), Math.min(w / (x2 - x1), h / (y2 - y1))));
  cy.viewport({
    zoom,
    pan: { x: cy.width() / 2 - zoom * ((x1 + x2) / 2), y: cy.height() / 2 - zoom * ((y1 + y2) / 2) },
  });
}

function highlightPaths(cy: Core, n: NodeSingular): void {
  const visible = (x: cytoscape.Collection) => x.filter((e) => !e.hasClass("hidden"));
  // edges point child → parent: successors run up to the logit, predecessors down to the lowest rank
  const up = n.successors().filter((e) => !e.hasClass("hidden"));
  const down = n.predecessors().filter((e) => !e.hasClass("hidden"));
  const keep = visible(up.union(down)).union(n);
  cy.batch(() => {
    cy.elements().addClass("faded");
    keep.removeClass("faded");
    keep.edges().addClass("hl");
  });
}

function clearHighlight(cy: Core): void {
  cy.batch(() => cy.elements().removeClass("faded hl"));
}

export function CircuitCanvas(props: CircuitCanvasProps) {
  const box = useRef<HTMLDivElement>(null);
  const cyRef = useRef<Core | null>(null);
  const latest = useRef(props);
  latest.current = props;
  /** The theme the current stylesheet was made for (a restyle recomputes every element's style). */
  const styledDark = useRef(props.dark);

  useEffect(() => {
    const p = latest.current;
    performance.mark("viewer-init-start");
    const cy = cytoscape({
      container: box.current,
      // the elements are added below, with their stored positions: no layout runs over them (a
      // preset layout would set every position again, and its fit would compute every element's
      // style and bounding box, labels measured, right here). Styles are computed once, lazily, at
      // the first draw, so the effects below that restyle or change classes cost almost nothing.
      elements: [],
      layout: { name: "null" },
      style: stylesheet(p.dark),
      minZoom: 0.05,
      maxZoom: 6,
      autoungrabify: true,
      boxSelectionEnabled: false,
      selectionType: "single",
      // large circuits: pan and zoom move a cached texture and hide edges while moving
      textureOnViewport: p.graph.groups.length > 200,
      hideEdgesOnViewport: p.graph.groups.length > 200,
    });
    cy.add(graphElements(p.graph));
    cyRef.current = cy;
    styledDark.current = p.dark;
    performance.mark("viewer-init-end");
    if (p.initialViewport && viewportFits(p.initialViewport, cy.width(), cy.height()))
      cy.viewport({ zoom: p.initialViewport.zoom, pan: p.initialViewport.pan });
    else fitPositions(cy, p.graph);
    cy.on("tap", "node", (ev) => latest.current.onSelect(ev.target.id() as string));
    // any group edge opens its panel (weight, both ends, its explanation or a first one to write)
    cy.on("tap", "edge[id ^= 'e']", (ev) => latest.current.onSelect(ev.target.id() as string));
    cy.on("mouseover", "node", (ev) => highlightPaths(cy, ev.target as NodeSingular));
    cy.on("mouseout", "node", () => clearHighlight(cy));
    cy.on("viewport", () => latest.current.onViewport?.({ zoom: cy.zoom(), pan: cy.pan() }));
    // mosaics after the first draw, so the graph is interactive before hundreds of images load
    if (p.graph.circuit.hasImages) {
      const urls = imageUrls(p.graph.circuit.id, p.shareToken);
      cy.one("render", () => {
        requestAnimationFrame(() => {
          if (cy.destroyed()) return;
          cy.batch(() => p.graph.groups.forEach((g) => cy.getElementById(`g${g.id}`).data("img", urls.mosaic(g.id))));
        });
      });
    }
    // Cytoscape caches where its container sits on the page; when content above it changes height
    // (the toolbar wrapping once the faithfulness figure arrives, a dialog opening) the canvas
    // moves without a window resize or scroll, and clicks would land on the old position
    let frame = 0;
    const remeasure = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => !cy.destroyed() && cy.resize());
    };
    const observer = new ResizeObserver(remeasure);
    observer.observe(document.body);
    if (box.current) observer.observe(box.current);
    box.current?.addEventListener("pointerenter", remeasure);
    p.onReady?.(cy);
    const el = box.current;
    return () => {
      observer.disconnect();
      el?.removeEventListener("pointerenter", remeasure);
      cancelAnimationFrame(frame);
      cy.destroy();
      cyRef.current = null;
    };
  }, [props.graph, props.shareToken]);

  useEffect(() => {
    if (!cyRef.current || styledDark.current === props.dark) return;
    styledDark.current = props.dark;
    cyRef.current.style(stylesheet(props.dark));
  }, [props.dark]);

  useEffect(() => {
    if (cyRef.current) applyThreshold(cyRef.current, props.graph, props.threshold, props.thresholdMode);
  }, [props.graph, props.threshold, props.thresholdMode]);

  useEffect(() => {
    const cy = cyRef.current;
    if (!cy) return;
    cy.batch(() => {
      cy.$(".sel").removeClass("sel");
      if (props.selected) cy.getElementById(props.selected).addClass("sel");
    });
  }, [props.selected, props.graph]);

  useEffect(() => {
    const cy = cyRef.current;
    const live = props.live;
    if (!cy || !live) return;
    cy.batch(() => {
      for (const g of live.groups) {
        const node = cy.getElementById(`g${g.id}`);
        const label = groupTitle(g, live.circuit.layers);
        if (node.nonempty() && node.data("label") !== label) node.data("label", label);
      }
      for (const e of live.edges) {
        const edge = cy.getElementById(`e${e.id}`);
        if (edge.empty()) continue;
        const line = e.explanation ? explanationLine(e.explanation) : undefined;
        if (edge.data("expl") === line) continue;
        if (line) edge.data("expl", line).addClass("explained");
        else edge.removeData("expl").removeClass("explained");
      }
    });
  }, [props.live, props.graph]);

  useEffect(() => {
    const cy = cyRef.current;
    if (!cy || !props.nodeClasses) return;
    cy.batch(() => props.nodeClasses!.forEach((cls, id) => cy.getElementById(id).addClass(cls)));
  }, [props.nodeClasses, props.graph]);

  return (
    <div
      ref={box}
      className={props.className ?? "h-[70vh] w-full"}
      data-testid={props.testId ?? "circuit-canvas"}
      tabIndex={0}
      role="application"
      aria-label={`Concept circuit of ${props.graph.circuit.className}: arrow keys move between connected nodes, Esc closes the panel`}
    />
  );
}
