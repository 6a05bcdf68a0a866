/** Label and explanation UI: self-contained panels for the circuit viewer and the summary page. */
export { GroupLabelPanel } from "./GroupLabelPanel";
export { EdgeExplanation } from "./EdgeExplanation";
export { CircuitLabels } from "./CircuitLabels";
export { LabelJobPanel } from "./LabelJobPanel";
export type { GroupRef, EdgeRef } from "./types";
