import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "~/server/api/root";

export type LabelView = inferRouterOutputs<AppRouter>["labels"]["get"];
export type LabelRevision = LabelView["revisions"][number];
export type LabelTargetInput = inferRouterInputs<AppRouter>["labels"]["get"]["target"];
/** A neuron group as the circuit document names it: layer entry index (0 = top) and group id. */
export interface GroupRef {
  layer: number;
  group: number;
}
/** A group edge: layer entry index of the parent, child group id (one entry down), parent group id. */
export interface EdgeRef {
  layer: number;
  child: number;
  parent: number;
}
