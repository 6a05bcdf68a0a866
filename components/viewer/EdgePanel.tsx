"use client";
/**
 * The selected group edge's panel: the child group (one layer down) and the parent it helps
 * build, the edge weight W, and the explanation of the relation (editable by annotators through
 * the labelling UI; plain text for share-link readers).
 */
import { EdgeExplanation } from "~/components/labels/EdgeExplanation";
import { groupTitle } from "~/lib/circuits/svg";
import { imageUrls, type CircuitGraph, type GraphEdge } from "~/lib/circuits/viewTypes";

interface Props {
  graph: CircuitGraph;
  edge: GraphEdge;
  shareToken: string | null;
  onSelect: (id: string | null) => void;
  close: React.ReactNode;
}

export function EdgePanel({ graph, edge, shareToken, onSelect, close }: Props) {
  const urls = imageUrls(graph.circuit.id, shareToken);
  const byId = new Map(graph.groups.map((g) => [g.id, g]));
  const child = byId.get(edge.source);
  const parent = byId.get(edge.target);
  if (!child || !parent) return null;
  const layers = graph.circuit.layers;
  const end = (g: typeof child, role: string) => (
    <button
      className="flex items-center gap-2 text-left hover:underline"
      onClick={() => onSelect(`g${g.id}`)}
      data-testid={`edge-${role}`}
    >
      {graph.circuit.hasImages && <img src={urls.mosaic(g.id)} alt="" width={40} height={40} className="rounded" />}
      <span>
        <span className="text-xs text-zinc-500">{role} · </span>
        {groupTitle(g, layers)}
      </span>
    </button>
  );
  return (
    <aside data-testid="edge-panel" className="flex flex-col gap-3">
      <div className="flex items-center gap-2">
        <h2 className="flex-1 text-lg font-semibold">Relation between layers</h2>
        {close}
      </div>
      {end(parent, "parent")}
      <p className="text-sm">
        built from, with W ={" "}
        <span
          className={edge.weight < 0 ? "text-red-600 dark:text-red-400" : "text-blue-700 dark:text-blue-400"}
          data-testid="edge-weight"
        >
          {edge.weight.toFixed(3)}
        </span>
      </p>
      {end(child, "child")}
      <EdgeExplanation
        circuitId={graph.circuit.id}
        edgeRef={{ layer: parent.layer, child: child.groupId, parent: parent.groupId }}
        fallbackText={edge.explanation}
      />
    </aside>
  );
}
