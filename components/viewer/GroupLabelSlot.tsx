"use client";
/**
 * THE LABEL SLOT of the detail panel: a neuron group's label and explanation. The viewer renders
 * this component for the selected group and nothing else about labels; the body is the labelling
 * UI (components/labels/): label with review state, editing for annotators, history with diffs,
 * and the explanations of the group's explained child edges. Everything shown is written by an
 * MLLM or an annotator and is rendered as text (React text nodes), never as HTML.
 */
import { GroupExplanations } from "~/components/labels/GroupExplanations";
import { GroupLabelPanel } from "~/components/labels/GroupLabelPanel";
import type { GraphGroup } from "~/lib/circuits/viewTypes";

export interface GroupLabelSlotProps {
  circuitId: number;
  group: GraphGroup;
  /** True on share links and for viewers: no editing controls. */
  readOnly: boolean;
}

export function GroupLabelSlot({ circuitId, group }: GroupLabelSlotProps) {
  // the server decides who may edit (annotators); a share-link holder without a session sees the plain label
  return (
    <div
      data-testid="label-slot"
      className="flex flex-col gap-2 rounded border border-zinc-200 px-2 py-2 text-sm dark:border-zinc-800"
    >
      <GroupLabelPanel
        circuitId={circuitId}
        groupRef={{ layer: group.layer, group: group.groupId }}
        fallbackText={group.label}
      />
      <GroupExplanations circuitId={circuitId} groupRef={{ layer: group.layer, group: group.groupId }} />
    </div>
  );
}
