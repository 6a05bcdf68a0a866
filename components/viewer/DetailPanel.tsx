"use client";
/**
 * The selected node's panel: label slot, member neurons with their semantic groups (each neuron
 * drills down to its hypertree), the concept patches at full size, the strongest parents and
 * children with their weights.
 */
import { groupTitle } from "~/lib/circuits/svg";
import { imageUrls, type CircuitGraph, type GraphGroup } from "~/lib/circuits/viewTypes";
import { ConceptPatches } from "./ConceptPatches";
import { EdgePanel } from "./EdgePanel";
import { GroupLabelSlot } from "./GroupLabelSlot";
import type { HeatmapState } from "./useHeatmaps";

export const NEIGHBOURS_SHOWN = 8;

interface Props {
  graph: CircuitGraph;
  selected: string;
  shareToken: string | null;
  readOnly: boolean;
  onSelect: (id: string | null) => void;
  onDrill: (layer: number, neuron: number) => void;
  heatmaps: HeatmapState & { on: boolean; toggle: (on: boolean) => void };
}

function weight(w: number) {
  return (
    <span className={w < 0 ? "text-red-600 dark:text-red-400" : "text-blue-700 dark:text-blue-400"}>
      {w.toFixed(3)}
    </span>
  );
}

export function DetailPanel({ graph, selected, shareToken, readOnly, onSelect, onDrill, heatmaps }: Props) {
  const urls = imageUrls(graph.circuit.id, shareToken);
  const byId = new Map(graph.groups.map((g) => [g.id, g]));
  const layers = graph.circuit.layers;
  const close = (
    <button
      className="text-sm text-zinc-500 hover:underline"
      onClick={() => onSelect(null)}
      aria-label="Close panel (Esc)"
    >
      Close ✕
    </button>
  );
  if (selected === "logit") {
    const top = [...graph.logitEdges].sort((a, b) => b.weight - a.weight);
    return (
      <aside data-testid="detail-panel" className="flex flex-col gap-3">
        <div className="flex items-center gap-2">
          <h2 className="flex-1 text-lg font-semibold">Logit of “{graph.circuit.className}”</h2>
          {close}
        </div>
        <p className="text-sm text-zinc-500">
          Class {graph.circuit.classIndex} of {graph.circuit.modelName}. Its top patches split into these groups:
        </p>
        <ul className="text-sm">
          {top.map((e) => {
            const g = byId.get(e.group)!;
            return (
              <li key={e.group}>
                <button className="hover:underline" onClick={() => onSelect(`g${g.id}`)}>
                  {groupTitle(g, layers)}
                </button>{" "}
                · {(e.weight * 100).toFixed(0)} % of the top patches
              </li>
            );
          })}
        </ul>
      </aside>
    );
  }
  if (selected.startsWith("e")) {
    const edge = graph.edges.find((e) => e.id === Number(selected.slice(1)));
    return edge ? (
      <EdgePanel graph={graph} edge={edge} shareToken={shareToken} onSelect={onSelect} close={close} />
    ) : null;
  }
  const g = byId.get(Number(selected.slice(1)));
  if (!g) return null;
  const parents = graph.edges.filter((e) => e.source === g.id).sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
  const children = graph.edges.filter((e) => e.target === g.id).sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
  const neurons = [...new Set(g.members.map((m) => m.neuron))];
  const neighbour = (other: GraphGroup, w: number, key: number) => (
    <li key={key} className="flex items-center gap-2">
      <img src={urls.mosaic(other.id)} alt="" width={24} height={24} className="rounded" />
      <button className="flex-1 truncate text-left hover:underline" onClick={() => onSelect(`g${other.id}`)}>
        {groupTitle(other, layers)}
      </button>
      {/* the relation itself (its W and explanation): the edge's panel, reachable without the canvas */}
      <button
        className="hover:underline"
        onClick={() => onSelect(`e${key}`)}
        aria-label={`relation with ${groupTitle(other, layers)}, W ${w.toFixed(3)}`}
        data-testid="open-edge"
      >
        {weight(w)}
      </button>
    </li>
  );
  return (
    <aside data-testid="detail-panel" className="flex flex-col gap-3">
      <div className="flex items-center gap-2">
        <h2 className="flex-1 text-lg font-semibold" data-testid="panel-title">
          {layers[g.layer]} · group {g.groupId}
        </h2>
        {close}
      </div>
      <GroupLabelSlot circuitId={graph.circuit.id} group={g} readOnly={readOnly} />
      <section>
        <h3 className="text-sm font-medium text-zinc-500">Member neurons and semantic groups</h3>
        <ul className="mt-1 text-sm">
          {neurons.map((n) => (
            <li key={n} className="flex flex-wrap items-center gap-2">
              <span>
                {layers[g.layer]}:{n}
              </span>
              <span className="text-zinc-500">
                {g.members
                  .filter((m) => m.neuron === n)
                  .map((m) => `s${m.semanticGroup} (${m.patchCount} patches)`)
                  .join(", ")}
              </span>
              <button
                className="text-blue-700 hover:underline dark:text-blue-400"
                data-testid="drill"
                onClick={() => onDrill(g.layer, n)}
              >
                hypertree ↓
              </button>
            </li>
          ))}
        </ul>
      </section>
      <section>
        <h3 className="text-sm font-medium text-zinc-500">
          Concept patches ({g.patches.length} of {g.patchCount}) · a: activation · click one to see it in its image
        </h3>
        {graph.circuit.hasImages ? (
          <>
            <div className="mt-1 flex flex-wrap items-center gap-2 text-sm">
              <label className="flex items-center gap-1">
                <input
                  type="checkbox"
                  checked={heatmaps.on}
                  onChange={(e) => heatmaps.toggle(e.target.checked)}
                  data-testid="heatmaps-toggle"
                />
                IG heatmaps
              </label>
              {heatmaps.on && (
                <span className="text-xs text-zinc-500" data-testid="heatmaps-status">
                  {heatmaps.ready.size === g.patches.length
                    ? "attribution of the group's neurons to each pixel"
                    : heatmaps.job && (heatmaps.job.status === "queued" || heatmaps.job.status === "running")
                      ? `computing… ${(heatmaps.job.progress * 100).toFixed(0)} %`
                      : heatmaps.job?.status === "failed"
                        ? `failed: ${heatmaps.job.error ?? ""}`
                        : `${heatmaps.ready.size}/${g.patches.length} computed${heatmaps.request ? "" : "; the rest can be computed by a signed-in member of the team"}`}
                </span>
              )}
              {heatmaps.on &&
                heatmaps.request &&
                heatmaps.ready.size < g.patches.length &&
                !(heatmaps.job && (heatmaps.job.status === "queued" || heatmaps.job.status === "running")) && (
                  <button
                    className="text-blue-700 hover:underline dark:text-blue-400"
                    onClick={heatmaps.request}
                    data-testid="heatmaps-compute"
                  >
                    compute
                  </button>
                )}
              {heatmaps.error && <span className="text-xs text-red-600">{heatmaps.error}</span>}
            </div>
            <ConceptPatches graph={graph} group={g} shareToken={shareToken} heatmaps={heatmaps} />
          </>
        ) : (
          <p className="text-sm text-zinc-500">The dataset images of this circuit are not on this server.</p>
        )}
      </section>
      <section className="grid grid-cols-1 gap-3 sm:grid-cols-2">
        <div>
          <h3 className="text-sm font-medium text-zinc-500">Strongest parents (W)</h3>
          <ul className="mt-1 flex flex-col gap-1 text-sm" data-testid="parents">
            {g.layer === 0 && (
              <li>
                <button className="hover:underline" onClick={() => onSelect("logit")}>
                  logit “{graph.circuit.className}”
                </button>
              </li>
            )}
            {parents.slice(0, NEIGHBOURS_SHOWN).map((e) => neighbour(byId.get(e.target)!, e.weight, e.id))}
          </ul>
        </div>
        <div>
          <h3 className="text-sm font-medium text-zinc-500">Strongest children (W)</h3>
          <ul className="mt-1 flex flex-col gap-1 text-sm" data-testid="children">
            {children.length === 0 && <li className="text-zinc-500">none (lowest rank)</li>}
            {children.slice(0, NEIGHBOURS_SHOWN).map((e) => neighbour(byId.get(e.source)!, e.weight, e.id))}
          </ul>
        </div>
      </section>
    </aside>
  );
}
