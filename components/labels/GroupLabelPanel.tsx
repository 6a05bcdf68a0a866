"use client";
/**
 * Self-contained label panel of one neuron group, for the circuit viewer's detail panel (and the
 * summary page): `<GroupLabelPanel circuitId={…} groupRef={{ layer, group }} />`. Needs only the
 * app's TRPCReactProvider. `layer` is the layer entry index in the circuit document (0 = the top
 * pair), `group` the neuron group's id within it.
 */
import type { ReactNode } from "react";
import { LabelEditor } from "./LabelEditor";
import type { GroupRef } from "./types";

export function GroupLabelPanel({
  circuitId,
  groupRef,
  title,
  renderEvidence,
  fallbackText,
}: {
  circuitId: number;
  groupRef: GroupRef;
  /** Heading; default "Label". Pass null for none. */
  title?: ReactNode;
  /** Optional thumbnails of evidence patches (patch indices of the circuit). */
  renderEvidence?: (patches: number[]) => ReactNode;
  /** Shown as plain text when the reader may not load the label (a share link without a session). */
  fallbackText?: string | null;
}) {
  return (
    <section className="flex flex-col gap-1" aria-label="Label" data-testid="group-label-panel">
      {title !== null && <h3 className="text-sm font-semibold text-zinc-500">{title ?? "Label"}</h3>}
      <LabelEditor
        key={`${circuitId}:${groupRef.layer}:${groupRef.group}`}
        circuitId={circuitId}
        target={{ kind: "group", layer: groupRef.layer, group: groupRef.group }}
        withDescription
        emptyText="No label yet."
        renderEvidence={renderEvidence}
        fallbackText={fallbackText}
      />
    </section>
  );
}
