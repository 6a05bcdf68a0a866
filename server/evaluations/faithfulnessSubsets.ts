/**
 * The faithfulness curve's neuron subsets: for each threshold of the series and each threshold mode,
 * the groups the viewer shows (lib/circuits/visibility.ts, the viewer's own rule), their member
 * neurons in every rank below the logit, and the lowest layer's core neurons of the kept targets of
 * the last rank. Thresholds (of either mode) with the same visible set share one subset.
 */
import {
  THRESHOLD_MODES,
  type ThresholdMode,
  type VisibilityGraph,
  visibilityKey,
  visibleGroupIds,
} from "~/lib/circuits/visibility";
import type { CircuitGraph } from "~/lib/circuits/viewTypes";
import type { FaithfulnessPoint } from "~/lib/evaluations/faithfulness";
import { type Circuit, lowestCoreNeurons } from "~/server/neurflow/light";

export type SubsetGraph = Omit<VisibilityGraph, "groups"> & {
  groups: (Pick<CircuitGraph["groups"][number], "id" | "layer"> & { members: { neuron: number }[] })[];
};

export interface FaithfulnessSubsets {
  /** Visible group ids and the channels kept per masked layer (`faithfulnessLayers` order). */
  configs: { groups: number[]; keep: number[][] }[];
  series: Record<ThresholdMode, FaithfulnessPoint[]>;
}

export function faithfulnessSubsets(graph: SubsetGraph, circuit: Circuit, thresholds: number[]): FaithfulnessSubsets {
  const configs: FaithfulnessSubsets["configs"] = [];
  const byKey = new Map<string, number>();
  const seriesOf = (mode: ThresholdMode) =>
    thresholds.map((threshold) => {
      const groups = visibleGroupIds(graph, threshold, mode);
      const key = visibilityKey(groups);
      let config = byKey.get(key);
      if (config == null) {
        config = configs.length;
        byKey.set(key, config);
        const vis = new Set(groups);
        const keep = circuit.layers
          .slice(1)
          .map((_, j) =>
            [
              ...new Set(
                graph.groups
                  .filter((g) => g.layer === j + 1 && vis.has(g.id))
                  .flatMap((g) => g.members.map((m) => m.neuron)),
              ),
            ].sort((x, y) => x - y),
          );
        keep.push(lowestCoreNeurons(circuit, new Set(keep[keep.length - 1])));
        configs.push({ groups, keep });
      }
      return { threshold, config };
    });
  const series = Object.fromEntries(THRESHOLD_MODES.map((m) => [m, seriesOf(m)])) as FaithfulnessSubsets["series"];
  return { configs, series };
}

/**
 * The viewer's graph of a circuit document, as far as visibility needs it (ids are made up: group
 * `i` of the document's flattened groups, edges likewise), for scripts without a database.
 */
export function subsetGraphOf(circuit: Circuit): SubsetGraph {
  const ids = new Map<string, number>();
  const groups: SubsetGraph["groups"] = [];
  circuit.layers.forEach((l, layer) =>
    l.neuronGroups.forEach((g) => {
      const id = groups.length + 1;
      ids.set(`${layer}:${g.id}`, id);
      groups.push({ id, layer, members: g.members.map((m) => ({ neuron: m.neuron })) });
    }),
  );
  const edges: SubsetGraph["edges"] = [];
  circuit.layers.forEach((l, layer) =>
    l.groupEdges.forEach((e) =>
      edges.push({
        id: edges.length + 1,
        source: ids.get(`${layer + 1}:${e.child}`)!,
        target: ids.get(`${layer}:${e.parent}`)!,
        weight: e.weight,
      }),
    ),
  );
  const logitEdges = groups.filter((g) => g.layer === 0).map((g) => ({ group: g.id, weight: 1 }));
  return { groups, edges, logitEdges };
}
