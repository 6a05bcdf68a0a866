"use client";
/**
 * Drill-down to the neuron-level hypertree around one target neuron: the targets one layer up that
 * chose it as a core neuron (top, edge = the sum of its per-semantic-group edges into them), the
 * neuron, its semantic groups (each with its strongest patch), and its core neurons one layer down
 * (bottom) with one edge per semantic group, width by |weight|, colour by sign. Clicking a parent or a core neuron that is itself a target moves there.
 */
import cytoscape, { type ElementDefinition } from "cytoscape";
import { useEffect, useRef } from "react";
import { THEME } from "~/lib/circuits/svg";
import { imageUrls, type Hypertree } from "~/lib/circuits/viewTypes";

interface Props {
  circuitId: number;
  tree: Hypertree;
  shareToken: string | null;
  dark: boolean;
  onDrill: (layer: number, neuron: number) => void;
}

const GAP = 90;

function row<T>(items: T[], y: number, gap = GAP) {
  const w = (items.length - 1) * gap;
  return items.map((it, i) => ({ it, x: i * gap - w / 2, y }));
}

export function HypertreeView({ circuitId, tree, shareToken, dark, onDrill }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const drill = useRef(onDrill);
  drill.current = onDrill;
  useEffect(() => {
    const t = dark ? THEME.dark : THEME.light;
    const urls = imageUrls(circuitId, shareToken);
    const els: ElementDefinition[] = [];
    const maxW = Math.max(
      1e-9,
      ...tree.coreNeurons.flatMap((c) => c.edges.map((e) => Math.abs(e.weight))),
      ...tree.parents.flatMap((p) => p.edges.map((e) => Math.abs(e.weight))),
    );
    for (const { it, x, y } of row(tree.parents, 0))
      els.push({
        data: {
          id: `p${it.neuron}`,
          label: `${tree.upper === "" ? "" : "↑ "}${it.neuron}`,
          kind: "parent",
          neuron: it.neuron,
        },
        position: { x, y },
      });
    els.push({ data: { id: "n", label: `${tree.upper}:${tree.neuron}`, kind: "self" }, position: { x: 0, y: 110 } });
    for (const { it, x, y } of row(tree.semanticGroups, 230, 110))
      els.push({
        data: {
          id: `s${it.semanticGroup}`,
          label: `s${it.semanticGroup} (${it.patches.length})`,
          kind: "sg",
          ...(it.patches[0] != null ? { img: urls.patch(it.patches[0]) } : {}),
        },
        position: { x, y },
      });
    for (const { it, x, y } of row(tree.coreNeurons, 380))
      els.push({
        data: {
          id: `c${it.neuron}`,
          label: `${tree.lower}:${it.neuron}${it.isTarget ? " ↓" : ""}`,
          kind: "core",
          neuron: it.neuron,
          isTarget: it.isTarget,
        },
        position: { x, y },
      });
    // this neuron → each parent: the sum of its per-semantic-group edges into that parent
    for (const p of tree.parents) {
      const w = p.edges.reduce((a, e) => a + e.weight, 0);
      els.push({
        data: {
          id: `pe${p.neuron}`,
          source: "n",
          target: `p${p.neuron}`,
          w: 1 + 6 * Math.min(1, Math.abs(w) / maxW),
          neg: w < 0,
        },
      });
    }
    for (const s of tree.semanticGroups)
      els.push({ data: { id: `se${s.semanticGroup}`, source: `s${s.semanticGroup}`, target: "n", w: 1, part: true } });
    for (const c of tree.coreNeurons)
      for (const e of c.edges)
        els.push({
          data: {
            id: `ce${c.neuron}-${e.semanticGroup}`,
            source: `c${c.neuron}`,
            target: `s${e.semanticGroup}`,
            w: 1 + 6 * Math.min(1, Math.abs(e.weight) / maxW),
            neg: e.weight < 0,
            weight: e.weight,
          },
        });
    const cy = cytoscape({
      container: box.current,
      elements: els,
      layout: { name: "preset" },
      autoungrabify: true,
      boxSelectionEnabled: false,
      style: [
        {
          selector: "node",
          style: {
            width: 30,
            height: 30,
            "background-color": t.node,
            "border-width": 2,
            "border-color": t.border,
            label: "data(label)",
            "font-size": 9,
            color: t.muted,
            "text-valign": "bottom",
            "text-margin-y": 3,
          },
        },
        {
          selector: "node[kind = 'sg']",
          style: {
            shape: "round-rectangle",
            width: 56,
            height: 56,
            "background-image": "data(img)",
            "background-fit": "cover",
          },
        },
        { selector: "node[kind = 'sg'][!img]", style: { "background-image": "none" } },
        { selector: "node[?isTarget], node[kind = 'parent']", style: { "border-color": t.selected } },
        {
          selector: "edge",
          style: { width: "data(w)", "line-color": t.pos, opacity: 0.75, "curve-style": "straight" },
        },
        { selector: "edge[?neg]", style: { "line-color": t.neg } },
        { selector: "edge[?part]", style: { "line-color": t.border, "line-style": "dotted" } },
        { selector: "node[kind = 'self']", style: { "background-color": t.selected, width: 36, height: 36 } },
      ],
    });
    cy.fit(undefined, 20);
    cy.on("tap", "node", (ev) => {
      const d = ev.target.data() as { kind: string; neuron?: number; isTarget?: boolean };
      if (d.kind === "parent" && d.neuron != null) drill.current(tree.layer - 1, d.neuron);
      if (d.kind === "core" && d.isTarget && d.neuron != null) drill.current(tree.layer + 1, d.neuron);
    });
    return () => cy.destroy();
  }, [tree, circuitId, shareToken, dark]);
  return <div ref={box} className="h-80 w-full" data-testid="hypertree-canvas" />;
}
