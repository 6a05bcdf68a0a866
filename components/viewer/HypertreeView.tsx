"use client";
/**
 * The neuron-level hypertree around one target neuron, drawn full width: the targets one layer up
 * that chose it as a core neuron (top row; W = the sum of its per-semantic-group edges into each),
 * the neuron itself, its semantic groups (each with its strongest patch, its patch count and the
 * neuron group it belongs to, `layer · gN` beside any label), and its core neurons one layer down
 * (bottom row) with their importance and one edge per semantic group (width by |W|, blue solid
 * W > 0, red dashed W < 0). Every neuron shows its strongest top patch where it has one (targets do;
 * the lowest layer's core neurons have no patches). Cards are HTML (readable text at any size, real
 * buttons for the keyboard) over an SVG layer of edges; the layout is computed here in pixels, one
 * row per level, so nothing is scaled down to fit: a wide row scrolls sideways.
 */
import { useEffect, useRef, useState } from "react";
import { groupTitle } from "~/lib/circuits/svg";
import { imageUrls, type CircuitGraph, type Hypertree } from "~/lib/circuits/viewTypes";

interface Props {
  graph: CircuitGraph;
  tree: Hypertree;
  shareToken: string | null;
  /** Move to another target neuron (a parent one layer up, a core neuron that is a target one layer down). */
  onDrill: (layer: number, neuron: number) => void;
  /** Select a neuron group in the concept graph. */
  onSelectGroup: (groupRowId: number) => void;
}

export const CARD_W = 150;
const PITCH = CARD_W + 22;
const IMG = 88;
const ROW_H = 176;
const ROW_GAP = 64;
const PAD = 16;

interface Placed {
  x: number;
  y: number;
}

function rowX(n: number, width: number): number[] {
  const used = n * PITCH - (PITCH - CARD_W);
  const start = Math.max(PAD, (width - used) / 2);
  return Array.from({ length: n }, (_, i) => start + i * PITCH);
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function W({ w }: { w: number }) {
  return (
    <span className={w < 0 ? "text-red-600 dark:text-red-400" : "text-blue-700 dark:text-blue-400"}>{fmt(w)}</span>
  );
}

export function HypertreeView({ graph, tree, shareToken, onDrill, onSelectGroup }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(1200);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    setWidth(el.clientWidth);
    return () => ro.disconnect();
  }, []);

  const urls = imageUrls(graph.circuit.id, shareToken);
  const layers = graph.circuit.layers;
  const isRoot = tree.layer === 0;
  const groupsById = new Map(graph.groups.map((g) => [g.id, g]));
  const parents = tree.parents;
  const sgs = tree.semanticGroups;
  const core = tree.coreNeurons;
  const widest = Math.max(1, parents.length, sgs.length, core.length);
  const contentW = Math.max(width, widest * PITCH + 2 * PAD);
  const rows = [0, 1, 2, 3].map((r) => PAD + 18 + r * (ROW_H + ROW_GAP));
  const height = rows[3]! + ROW_H + PAD;

  const parentX = rowX(isRoot ? 1 : Math.max(parents.length, 1), contentW);
  const selfX = rowX(1, contentW)[0]!;
  const sgX = rowX(sgs.length, contentW);
  const coreX = rowX(core.length, contentW);
  const top = (x: number, y: number): Placed => ({ x: x + CARD_W / 2, y });
  const bottom = (x: number, y: number): Placed => ({ x: x + CARD_W / 2, y: y + ROW_H });
  const maxW = Math.max(
    1e-9,
    ...core.flatMap((c) => c.edges.map((e) => Math.abs(e.weight))),
    ...parents.map((p) => Math.abs(p.edges.reduce((a, e) => a + e.weight, 0))),
  );
  const sgIndex = new Map(sgs.map((s, i) => [s.semanticGroup, i]));
  const lines: { a: Placed; b: Placed; w: number; key: string; part?: boolean }[] = [];
  if (!isRoot)
    parents.forEach((p, i) =>
      lines.push({
        key: `p${p.neuron}`,
        a: top(selfX, rows[1]!),
        b: bottom(parentX[i]!, rows[0]!),
        w: p.edges.reduce((a, e) => a + e.weight, 0),
      }),
    );
  else lines.push({ key: "root", a: top(selfX, rows[1]!), b: bottom(parentX[0]!, rows[0]!), w: maxW, part: true });
  sgs.forEach((_, i) =>
    lines.push({ key: `s${i}`, a: top(sgX[i]!, rows[2]!), b: bottom(selfX, rows[1]!), w: 0, part: true }),
  );
  core.forEach((c, i) =>
    c.edges.forEach((e) => {
      const j = sgIndex.get(e.semanticGroup);
      if (j != null)
        lines.push({
          key: `c${c.neuron}-${e.semanticGroup}`,
          a: top(coreX[i]!, rows[3]!),
          b: bottom(sgX[j]!, rows[2]!),
          w: e.weight,
        });
    }),
  );

  const card =
    "absolute flex flex-col items-center gap-1 rounded-lg border border-zinc-300 bg-white p-2 text-center shadow-sm dark:border-zinc-700 dark:bg-zinc-900";
  const clickable =
    "hover:border-blue-500 hover:ring-2 hover:ring-blue-300 focus:outline-none focus:ring-2 focus:ring-blue-500";
  const patchImg = (idx: number | null | undefined, alt: string) =>
    graph.circuit.hasImages && idx != null ? (
      <img
        src={urls.patch(idx)}
        alt={alt}
        width={IMG}
        height={IMG}
        className="rounded"
        style={{ imageRendering: graph.circuit.inputSize < IMG ? "pixelated" : "auto" }}
        data-testid="ht-patch"
      />
    ) : (
      <span
        className="flex items-center justify-center rounded bg-zinc-100 text-xs text-zinc-500 dark:bg-zinc-800"
        style={{ width: IMG, height: IMG }}
      >
        {idx == null ? "no top patches" : "no images"}
      </span>
    );
  const title = "text-sm font-semibold leading-tight text-zinc-900 dark:text-zinc-100";
  const sub = "text-xs leading-tight text-zinc-600 dark:text-zinc-400";

  return (
    <div ref={box} className="w-full overflow-x-auto" data-testid="hypertree-canvas">
      <div className="relative" style={{ width: contentW, height }}>
        <svg width={contentW} height={height} className="absolute inset-0" aria-hidden="true">
          {lines.map((l) => (
            <line
              key={l.key}
              x1={l.a.x}
              y1={l.a.y}
              x2={l.b.x}
              y2={l.b.y}
              strokeWidth={l.part ? 1.5 : 1 + 7 * Math.min(1, Math.abs(l.w) / maxW)}
              className={l.part ? "stroke-zinc-400" : l.w < 0 ? "stroke-red-500" : "stroke-blue-500"}
              strokeDasharray={l.part ? "3 4" : l.w < 0 ? "6 4" : undefined}
              strokeOpacity={0.75}
            />
          ))}
        </svg>
        {/* row labels */}
        {[
          isRoot ? "↑ the class logit (the root)" : `↑ targets in ${layers[tree.layer - 1]} that chose it`,
          "this neuron",
          "its semantic groups",
          `↓ its ${core.length} core neurons in ${tree.lower}`,
        ].map((t, i) => (
          <span key={t} className="absolute left-2 text-xs font-medium text-zinc-500" style={{ top: rows[i]! - 20 }}>
            {t}
          </span>
        ))}
        {isRoot ? (
          <div
            className={card}
            style={{ left: parentX[0], top: rows[0], width: CARD_W, height: ROW_H }}
            data-testid="ht-node"
          >
            <span
              className="flex items-center justify-center rounded-full bg-amber-400 text-sm font-bold text-zinc-900"
              style={{ width: IMG, height: IMG }}
            >
              logit
            </span>
            <span className={title}>“{graph.circuit.className}”</span>
            <span className={sub}>class {graph.circuit.classIndex}</span>
          </div>
        ) : (
          parents.map((p, i) => (
            <button
              key={p.neuron}
              className={`${card} ${clickable}`}
              style={{ left: parentX[i], top: rows[0], width: CARD_W, height: ROW_H }}
              onClick={() => onDrill(tree.layer - 1, p.neuron)}
              data-testid="ht-parent"
              title={`Go up to ${layers[tree.layer - 1]}:${p.neuron}`}
            >
              {patchImg(p.topPatch, `strongest patch of ${layers[tree.layer - 1]}:${p.neuron}`)}
              <span className={title} data-testid="ht-label">
                ↑ {layers[tree.layer - 1]}:{p.neuron}
              </span>
              <span className={sub}>
                W <W w={p.edges.reduce((a, e) => a + e.weight, 0)} />
                {p.topActivation != null && ` · a ${fmt(p.topActivation)}`}
              </span>
            </button>
          ))
        )}
        <div
          className={`${card} ring-2 ring-green-600 dark:ring-green-500`}
          style={{ left: selfX, top: rows[1], width: CARD_W, height: ROW_H }}
          data-testid="ht-self"
        >
          {patchImg(sgs[0]?.patches[0], `strongest patch of ${tree.upper}:${tree.neuron}`)}
          <span className={title} data-testid="ht-label">
            {tree.upper}:{tree.neuron}
          </span>
          <span className={sub}>
            {tree.topActivation != null && `top a ${fmt(tree.topActivation)}`}
            {tree.igCompleteness != null && ` · IG err ${tree.igCompleteness.toExponential(0)}`}
          </span>
        </div>
        {sgs.map((s, i) => {
          const g = s.neuronGroup != null ? groupsById.get(s.neuronGroup) : undefined;
          return (
            <button
              key={s.semanticGroup}
              className={`${card} ${clickable}`}
              style={{ left: sgX[i], top: rows[2], width: CARD_W, height: ROW_H }}
              onClick={() => g && onSelectGroup(g.id)}
              disabled={!g}
              data-testid="ht-sg"
              title={g ? `Select ${groupTitle(g, layers)} in the graph` : undefined}
            >
              {patchImg(s.patches[0], `strongest patch of semantic group ${s.semanticGroup}`)}
              <span className={title} data-testid="ht-label">
                s{s.semanticGroup} · {s.patchCount} patches
              </span>
              {s.activations[0] != null && <span className={sub}>top a {fmt(s.activations[0])}</span>}
              {g && (
                <span className="w-full truncate text-xs leading-tight text-zinc-700 dark:text-zinc-300">
                  <span className="font-mono">
                    {layers[g.layer]} · g{g.groupId}
                  </span>
                  {g.label && ` ${g.label}`}
                </span>
              )}
            </button>
          );
        })}
        {core.map((c, i) => {
          const name = `${tree.lower}:${c.neuron}`;
          const body = (
            <>
              {patchImg(c.topPatch, `strongest patch of ${name}`)}
              <span className={title} data-testid="ht-label">
                {name}
                {c.isTarget && " ↓"}
              </span>
              <span className={sub}>importance {fmt(c.importance)}</span>
              <span className={sub}>
                {c.edges.map((e, j) => (
                  <span key={e.semanticGroup}>
                    {j > 0 && " · "}s{e.semanticGroup} <W w={e.weight} />
                  </span>
                ))}
              </span>
            </>
          );
          const style = { left: coreX[i], top: rows[3], width: CARD_W, height: ROW_H };
          return c.isTarget ? (
            <button
              key={c.neuron}
              className={`${card} ${clickable}`}
              style={style}
              onClick={() => onDrill(tree.layer + 1, c.neuron)}
              data-testid="ht-core"
              title={`Go down to ${name}`}
            >
              {body}
            </button>
          ) : (
            <div key={c.neuron} className={card} style={style} data-testid="ht-core">
              {body}
            </div>
          );
        })}
      </div>
    </div>
  );
}
