/**
 * The context of a neuron group's concept patches, for the viewer's patch panel: where each crop
 * sits in its source image (image, box, granularity = crop side / input side), the activation it
 * was chosen for (the strongest member neuron's stored top-patch activation), and the group's
 * metric M over all of the circuit's patches when it was computed (`patchActivations.ts`).
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "~/db/client";
import { circuitLayers, circuitTargets, targetTopPatches } from "~/db/schema";
import type { GroupPatchContext } from "~/lib/circuits/viewTypes";
import { loadGraph, patchWithImage } from "./graph";
import { activationsJobFor, readGroupActivations } from "./patchActivations";

export function groupPatchContext(
  db: Db,
  root: string,
  circuitId: number,
  groupRowId: number,
): GroupPatchContext | null {
  const graph = loadGraph(db, circuitId);
  const g = graph?.groups.find((x) => x.id === groupRowId);
  if (!graph || !g) return null;
  const layer = db
    .select({ id: circuitLayers.id })
    .from(circuitLayers)
    .where(and(eq(circuitLayers.circuitId, circuitId), eq(circuitLayers.idx, g.layer)))
    .get();
  const neurons = [...new Set(g.members.map((m) => m.neuron))];
  const targets = layer
    ? db
        .select({ id: circuitTargets.id, neuron: circuitTargets.neuron })
        .from(circuitTargets)
        .where(and(eq(circuitTargets.layerId, layer.id), inArray(circuitTargets.neuron, neurons)))
        .all()
    : [];
  const neuronOf = new Map(targets.map((t) => [t.id, t.neuron]));
  const sgs = new Set(g.members.map((m) => `${m.neuron}:${m.semanticGroup}`));
  // the strongest member activation on each concept patch (as the graph orders them), and its top-patch rank
  const best = new Map<number, { activation: number; neuron: number; rank: number }>();
  if (targets.length)
    for (const r of db
      .select()
      .from(targetTopPatches)
      .where(
        and(
          inArray(
            targetTopPatches.targetId,
            targets.map((t) => t.id),
          ),
          inArray(targetTopPatches.patchIdx, g.patches),
        ),
      )
      .all()) {
      const neuron = neuronOf.get(r.targetId)!;
      if (!sgs.has(`${neuron}:${r.semanticGroup}`)) continue;
      const cur = best.get(r.patchIdx);
      if (!cur || r.activation > cur.activation)
        best.set(r.patchIdx, { activation: r.activation, neuron, rank: r.rank });
    }
  const computed = readGroupActivations(root, circuitId, groupRowId);
  const mOf = new Map((computed?.group?.concept ?? []).map(([p, m, q]) => [p, { m, below: q }]));
  const S = graph.circuit.inputSize;
  return {
    group: groupRowId,
    layer: graph.circuit.layers[g.layer]!,
    inputSize: S,
    patches: g.patches.flatMap((p) => {
      const info = patchWithImage(db, circuitId, p);
      if (!info) return [];
      const b = best.get(p);
      return [
        {
          patch: p,
          imageIdx: info.imageIdx,
          imageName: info.imageName,
          x: info.x,
          y: info.y,
          size: info.size,
          granularity: info.size / S,
          activation: b?.activation ?? null,
          neuron: b?.neuron ?? null,
          rank: b?.rank ?? null,
          m: mOf.get(p)?.m ?? null,
          below: mOf.get(p)?.below ?? null,
        },
      ];
    }),
    histogram: computed?.group
      ? {
          max: computed.group.max,
          counts: computed.group.counts,
          above: computed.group.above,
          patches: computed.patches,
        }
      : null,
    job: activationsJobFor(db, circuitId),
    canCompute: graph.circuit.hasImages && graph.circuit.modelId != null,
  };
}
