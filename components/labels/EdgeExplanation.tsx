"use client";
/**
 * Self-contained explanation panel of one group edge (child one layer down → parent), for the
 * circuit viewer's detail panel: `<EdgeExplanation circuitId={…} edgeRef={{ layer, child, parent }} />`.
 * `layer` is the parent's layer entry index in the circuit document.
 */
import type { ReactNode } from "react";
import { LabelEditor } from "./LabelEditor";
import type { EdgeRef } from "./types";

export function EdgeExplanation({
  circuitId,
  edgeRef,
  title,
  renderEvidence,
  fallbackText,
}: {
  circuitId: number;
  edgeRef: EdgeRef;
  title?: ReactNode;
  renderEvidence?: (patches: number[]) => ReactNode;
  /** Shown as plain text when the reader may not load the label (a share link without a session). */
  fallbackText?: string | null;
}) {
  return (
    <section className="flex flex-col gap-1" aria-label="Explanation" data-testid="edge-explanation">
      {title !== null && (
        <h3 className="text-sm font-semibold text-zinc-500">{title ?? "How the lower group builds the upper one"}</h3>
      )}
      <LabelEditor
        key={`${circuitId}:${edgeRef.layer}:${edgeRef.child}:${edgeRef.parent}`}
        circuitId={circuitId}
        target={{ kind: "edge", layer: edgeRef.layer, child: edgeRef.child, parent: edgeRef.parent }}
        withDescription={false}
        emptyText="No explanation yet."
        renderEvidence={renderEvidence}
        fallbackText={fallbackText}
      />
    </section>
  );
}
