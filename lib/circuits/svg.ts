/**
 * The concept graph as SVG, written from the stored positions (isomorphic: the browser's "Export
 * SVG" and the server's Open Graph / thumbnail images, rasterised with sharp, use the same code).
 * Every text is escaped; labels are drawn as SVG text, never markup.
 */
import type { CircuitGraph } from "./viewTypes";

export const NODE_SIZE = 64;
export const LOGIT_SIZE = 44;

export const THEME = {
  light: {
    bg: "#ffffff",
    text: "#18181b",
    muted: "#71717a",
    node: "#e4e4e7",
    border: "#a1a1aa",
    pos: "#2563eb",
    neg: "#dc2626",
    logit: "#f59e0b",
    selected: "#16a34a",
  },
  dark: {
    bg: "#09090b",
    text: "#f4f4f5",
    muted: "#a1a1aa",
    node: "#27272a",
    border: "#52525b",
    pos: "#60a5fa",
    neg: "#f87171",
    logit: "#fbbf24",
    selected: "#4ade80",
  },
} as const;

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

export function maxAbsWeight(graph: { edges: { weight: number }[] }): number {
  return graph.edges.reduce((a, e) => Math.max(a, Math.abs(e.weight)), 0) || 1;
}

/** Edge width in px for |W| relative to the largest |W|. */
export function edgeWidth(weight: number, maxW: number): number {
  return 1 + 7 * Math.min(1, Math.abs(weight) / maxW);
}

/** `layer · gN`: what tells groups apart, kept beside any label (several groups can share a label). */
export function groupTag(g: { layer: number; groupId: number }, layers: string[]): string {
  return `${layers[g.layer] ?? `L${g.layer}`} · g${g.groupId}`;
}

/** A group's name wherever groups are listed: `layer · gN`, then its label when it has one. */
export function groupTitle(g: { layer: number; groupId: number; label: string | null }, layers: string[]): string {
  return g.label ? `${groupTag(g, layers)} · ${g.label}` : groupTag(g, layers);
}

export interface SvgOptions {
  /** Output size; the content is fitted inside with a margin. Without: the content's own size. */
  width?: number;
  height?: number;
  dark?: boolean;
  /** Group row id → image href (a data: URI for a self-contained file). */
  images?: Map<number, string>;
  /** Node / edge ids to draw (`logit`, `g<id>`, `e<id>`, `l<id>`); all when absent. */
  visible?: Set<string>;
  selected?: string | null;
  /** Title line at the top-left. */
  title?: string;
  /** Draw node captions. */
  captions?: boolean;
  /** The part of the model plane to draw (the viewer's viewport); else everything visible, fitted. */
  extent?: { x1: number; y1: number; x2: number; y2: number };
}

export function circuitSvg(graph: CircuitGraph, opts: SvgOptions = {}): string {
  const t = opts.dark ? THEME.dark : THEME.light;
  const show = (id: string) => !opts.visible || opts.visible.has(id);
  const groups = graph.groups.filter((g) => show(`g${g.id}`));
  const pos = new Map(graph.groups.map((g) => [g.id, g]));
  const half = NODE_SIZE / 2;
  const xs = [graph.logit.x, ...groups.map((g) => g.x)];
  const ys = [graph.logit.y, ...groups.map((g) => g.y)];
  const e = opts.extent;
  const minX = e ? e.x1 : Math.min(...xs) - half - 10;
  const maxX = e ? e.x2 : Math.max(...xs) + half + 10;
  const minY = e ? e.y1 : Math.min(...ys) - half - (opts.title ? 40 : 10);
  const maxY = e ? e.y2 : Math.max(...ys) + half + (opts.captions === false ? 10 : 26);
  const cw = maxX - minX;
  const ch = maxY - minY;
  const W = opts.width ?? Math.ceil(cw);
  const H = opts.height ?? Math.ceil(ch);
  const scale = Math.min(W / cw, H / ch);
  const ox = (W - cw * scale) / 2 - minX * scale;
  const oy = (H - ch * scale) / 2 - minY * scale;
  const maxW = maxAbsWeight(graph);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif">`,
    `<rect width="100%" height="100%" fill="${t.bg}"/>`,
    `<g transform="translate(${ox.toFixed(2)} ${oy.toFixed(2)}) scale(${scale.toFixed(5)})">`,
  );
  for (const e of graph.logitEdges) {
    const g = pos.get(e.group);
    if (!g || !show(`l${e.group}`) || !show(`g${e.group}`)) continue;
    out.push(
      `<line x1="${g.x}" y1="${g.y}" x2="${graph.logit.x}" y2="${graph.logit.y}" stroke="${t.logit}" stroke-width="${(1 + 4 * e.weight).toFixed(2)}" stroke-dasharray="6 4" opacity="0.8"/>`,
    );
  }
  for (const e of graph.edges) {
    const a = pos.get(e.source);
    const b = pos.get(e.target);
    if (!a || !b || !show(`e${e.id}`)) continue;
    out.push(
      `<line x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}" stroke="${e.weight >= 0 ? t.pos : t.neg}" stroke-width="${edgeWidth(e.weight, maxW).toFixed(2)}"${e.weight >= 0 ? "" : ' stroke-dasharray="2 3"'} opacity="0.75"/>`,
    );
  }
  const sel = opts.selected ?? null;
  out.push(
    `<circle cx="${graph.logit.x}" cy="${graph.logit.y}" r="${LOGIT_SIZE / 2}" fill="${t.logit}" stroke="${sel === "logit" ? t.selected : t.border}" stroke-width="${sel === "logit" ? 5 : 2}"/>`,
    `<text x="${graph.logit.x}" y="${graph.logit.y + 4}" text-anchor="middle" font-size="12" font-weight="600" fill="#18181b">${escapeXml(graph.circuit.className.slice(0, 12))}</text>`,
  );
  for (const g of groups) {
    const x = g.x - half;
    const y = g.y - half;
    const img = opts.images?.get(g.id);
    out.push(`<rect x="${x}" y="${y}" width="${NODE_SIZE}" height="${NODE_SIZE}" rx="6" fill="${t.node}"/>`);
    if (img)
      out.push(
        `<image x="${x + 2}" y="${y + 2}" width="${NODE_SIZE - 4}" height="${NODE_SIZE - 4}" href="${escapeXml(img)}" xlink:href="${escapeXml(img)}" preserveAspectRatio="xMidYMid slice"/>`,
      );
    const isSel = sel === `g${g.id}`;
    out.push(
      `<rect x="${x}" y="${y}" width="${NODE_SIZE}" height="${NODE_SIZE}" rx="6" fill="none" stroke="${isSel ? t.selected : t.border}" stroke-width="${isSel ? 5 : 2}"/>`,
    );
    if (opts.captions !== false)
      out.push(
        `<text x="${g.x}" y="${g.y + half + 14}" text-anchor="middle" font-size="11" fill="${t.muted}">${escapeXml(groupTitle(g, graph.circuit.layers).slice(0, 28))}</text>`,
      );
  }
  out.push("</g>");
  if (opts.title)
    out.push(`<text x="16" y="30" font-size="22" font-weight="600" fill="${t.text}">${escapeXml(opts.title)}</text>`);
  out.push("</svg>");
  return out.join("\n");
}
