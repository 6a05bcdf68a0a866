/**
 * Reads a stored circuit as the viewer's concept graph (groups with stored positions, members,
 * concept patches and labels; group edges; the logit), and the neuron-level hypertree around one
 * target. Plain queries over the normalised tables; no document is rebuilt.
 */
import { and, asc, eq, inArray } from "drizzle-orm";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Db } from "~/db/client";
import {
  circuitLayers,
  circuits,
  circuitTargets,
  coreNeuronEdges,
  coreNeurons,
  datasets,
  groupEdges,
  explanations,
  labels,
  models,
  neuronGroupMembers,
  neuronGroups,
  runs,
  semanticGroups,
  targetTopPatches,
} from "~/db/schema";
import { RANK_GAP } from "./layout";
import { MAX_GROUP_PATCHES, type CircuitGraph, type GraphGroup, type Hypertree } from "~/lib/circuits/viewTypes";

function byKey<T, K>(rows: T[], key: (r: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const r of rows) {
    const l = m.get(key(r));
    if (l) l.push(r);
    else m.set(key(r), [r]);
  }
  return m;
}

/** Folder holding the circuit's class images (dataset folder / class), or null (imported circuit, deleted dataset). */
export function circuitImageDir(db: Db, circuitId: number): string | null {
  const row = db
    .select({ dir: datasets.dir, className: runs.className })
    .from(circuits)
    .innerJoin(runs, eq(runs.id, circuits.runId))
    .innerJoin(datasets, eq(datasets.id, runs.datasetId))
    .where(eq(circuits.id, circuitId))
    .get();
  if (!row) return null;
  const dir = join(row.dir, row.className);
  return existsSync(dir) ? dir : null;
}

export function loadGraph(db: Db, circuitId: number): CircuitGraph | null {
  const c = db.select().from(circuits).where(eq(circuits.id, circuitId)).get();
  if (!c) return null;
  const layers = db
    .select()
    .from(circuitLayers)
    .where(eq(circuitLayers.circuitId, circuitId))
    .orderBy(asc(circuitLayers.idx))
    .all();
  const layerIds = layers.map((l) => l.id);
  const layerIdx = new Map(layers.map((l) => [l.id, l.idx]));
  const groups = layerIds.length
    ? db
        .select()
        .from(neuronGroups)
        .where(inArray(neuronGroups.layerId, layerIds))
        .orderBy(asc(neuronGroups.layerId), asc(neuronGroups.idx))
        .all()
    : [];
  const groupIds = groups.map((g) => g.id);
  const members = byKey(
    groupIds.length
      ? db
          .select()
          .from(neuronGroupMembers)
          .where(inArray(neuronGroupMembers.neuronGroupId, groupIds))
          .orderBy(asc(neuronGroupMembers.idx))
          .all()
      : [],
    (m) => m.neuronGroupId,
  );
  const targets = layerIds.length
    ? db
        .select({ id: circuitTargets.id, layerId: circuitTargets.layerId, neuron: circuitTargets.neuron })
        .from(circuitTargets)
        .where(inArray(circuitTargets.layerId, layerIds))
        .all()
    : [];
  const targetByKey = new Map(targets.map((t) => [`${t.layerId}:${t.neuron}`, t.id]));
  const targetIds = targets.map((t) => t.id);
  const top = byKey(
    targetIds.length
      ? db
          .select()
          .from(targetTopPatches)
          .where(inArray(targetTopPatches.targetId, targetIds))
          .orderBy(asc(targetTopPatches.rank))
          .all()
      : [],
    (r) => `${r.targetId}:${r.semanticGroup}`,
  );
  const groupLabels = new Map(
    groupIds.length
      ? db
          .select({ g: labels.neuronGroupId, text: labels.text })
          .from(labels)
          .where(eq(labels.circuitId, circuitId))
          .all()
          .map((l) => [l.g, l.text] as const)
      : [],
  );

  const graphGroups: GraphGroup[] = groups.map((g) => {
    const ms = members.get(g.id) ?? [];
    // concept patches: the union of the members' semantic-group patches, strongest activation first
    const best = new Map<number, number>();
    const out = ms.map((m) => {
      const tid = targetByKey.get(`${g.layerId}:${m.neuron}`);
      const rows = tid == null ? [] : (top.get(`${tid}:${m.semanticGroup}`) ?? []);
      for (const r of rows) best.set(r.patchIdx, Math.max(best.get(r.patchIdx) ?? -Infinity, r.activation));
      return { neuron: m.neuron, semanticGroup: m.semanticGroup, patchCount: rows.length };
    });
    const patches = [...best.entries()]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, MAX_GROUP_PATCHES)
      .map(([p]) => p);
    return {
      id: g.id,
      layer: layerIdx.get(g.layerId)!,
      groupId: g.groupId,
      x: g.layoutX,
      y: g.layoutY,
      patchCount: g.patchCount,
      members: out,
      patches,
      label: groupLabels.get(g.id) ?? null,
    };
  });

  // group edges: parent in layer i, child in layer i + 1, both by document group id
  const rowOf = new Map(groups.map((g) => [`${layerIdx.get(g.layerId)}:${g.groupId}`, g.id]));
  const gEdges = layerIds.length
    ? db
        .select()
        .from(groupEdges)
        .where(inArray(groupEdges.layerId, layerIds))
        .orderBy(asc(groupEdges.layerId), asc(groupEdges.idx))
        .all()
    : [];
  const edgeTexts = new Map(
    gEdges.length
      ? db
          .select({ e: explanations.groupEdgeId, text: explanations.text })
          .from(explanations)
          .where(eq(explanations.circuitId, circuitId))
          .all()
          .map((x) => [x.e, x.text] as const)
      : [],
  );
  const edges = gEdges.flatMap((e) => {
    const li = layerIdx.get(e.layerId)!;
    const target = rowOf.get(`${li}:${e.parent}`);
    const source = rowOf.get(`${li + 1}:${e.child}`);
    return target == null || source == null
      ? []
      : [{ id: e.id, source, target, weight: e.weight, explanation: edgeTexts.get(e.id) ?? null }];
  });

  // logit → top groups: the share of the logit's top patches in each group
  const topGroups = graphGroups.filter((g) => g.layer === 0);
  const totalTop = topGroups.reduce((a, g) => a + g.members.reduce((b, m) => b + m.patchCount, 0), 0) || 1;
  const logitEdges = topGroups.map((g) => ({
    group: g.id,
    weight: g.members.reduce((b, m) => b + m.patchCount, 0) / totalTop,
  }));

  return {
    circuit: {
      id: c.id,
      modelId: c.modelId,
      // the name the model is registered under; the document's own name when the model is gone
      modelName:
        (c.modelId != null
          ? db.select({ name: models.name }).from(models).where(eq(models.id, c.modelId)).get()?.name
          : undefined) ?? c.modelName,
      className: c.className,
      classIndex: c.classIndex,
      tau: c.params.tau,
      k: c.params.k,
      inputSize: c.modelInputSize,
      layers: layers.map((l) => l.upper),
      chain: [...layers.map((l) => l.upper), ...(layers.length ? [layers.at(-1)!.lower] : [])],
      patchCount: c.patchCount,
      createdAt: c.createdAt,
      hasImages: circuitImageDir(db, c.id) != null,
    },
    groups: graphGroups,
    edges,
    logitEdges,
    logit: { x: 0, y: -RANK_GAP },
  };
}

export function loadHypertree(db: Db, circuitId: number, layer: number, neuron: number): Hypertree | null {
  const l = db
    .select()
    .from(circuitLayers)
    .where(and(eq(circuitLayers.circuitId, circuitId), eq(circuitLayers.idx, layer)))
    .get();
  if (!l) return null;
  const t = db
    .select()
    .from(circuitTargets)
    .where(and(eq(circuitTargets.layerId, l.id), eq(circuitTargets.neuron, neuron)))
    .get();
  if (!t) return null;
  const top = db
    .select()
    .from(targetTopPatches)
    .where(eq(targetTopPatches.targetId, t.id))
    .orderBy(asc(targetTopPatches.rank))
    .all();
  const sgs = db
    .select()
    .from(semanticGroups)
    .where(eq(semanticGroups.targetId, t.id))
    .orderBy(asc(semanticGroups.semanticGroup))
    .all();
  const core = db.select().from(coreNeurons).where(eq(coreNeurons.targetId, t.id)).orderBy(asc(coreNeurons.rank)).all();
  const edges = byKey(
    db.select().from(coreNeuronEdges).where(eq(coreNeuronEdges.targetId, t.id)).orderBy(asc(coreNeuronEdges.idx)).all(),
    (e) => e.neuron,
  );
  const below = db
    .select()
    .from(circuitLayers)
    .where(and(eq(circuitLayers.circuitId, circuitId), eq(circuitLayers.idx, layer + 1)))
    .get();
  const above =
    layer > 0
      ? db
          .select()
          .from(circuitLayers)
          .where(and(eq(circuitLayers.circuitId, circuitId), eq(circuitLayers.idx, layer - 1)))
          .get()
      : undefined;
  const parents: Hypertree["parents"] = [];
  let aboveTopPatch = new Map<number, { patch: number; activation: number }>();
  if (above) {
    const aboveTargets = db
      .select({ id: circuitTargets.id, neuron: circuitTargets.neuron })
      .from(circuitTargets)
      .where(eq(circuitTargets.layerId, above.id))
      .orderBy(asc(circuitTargets.idx))
      .all();
    const pe = aboveTargets.length
      ? byKey(
          db
            .select()
            .from(coreNeuronEdges)
            .where(
              and(
                inArray(
                  coreNeuronEdges.targetId,
                  aboveTargets.map((a) => a.id),
                ),
                eq(coreNeuronEdges.neuron, neuron),
              ),
            )
            .orderBy(asc(coreNeuronEdges.idx))
            .all(),
          (e) => e.targetId,
        )
      : new Map<number, never[]>();
    const chosen = aboveTargets.filter((a) => pe.get(a.id)?.length);
    aboveTopPatch = strongestPatch(
      db,
      chosen.map((a) => a.id),
    );
    for (const a of chosen) {
      const es = pe.get(a.id)!;
      const tp = aboveTopPatch.get(a.id);
      parents.push({
        neuron: a.neuron,
        edges: es.map((e) => ({ semanticGroup: e.semanticGroup, weight: e.weight })),
        topPatch: tp?.patch ?? null,
        topActivation: tp?.activation ?? null,
      });
    }
  }
  // core neurons that are targets one layer down have top patches of their own
  const belowIds = new Map<number, number>(
    below
      ? db
          .select({ id: circuitTargets.id, n: circuitTargets.neuron })
          .from(circuitTargets)
          .where(eq(circuitTargets.layerId, below.id))
          .all()
          .map((r) => [r.n, r.id] as const)
      : [],
  );
  const coreTop = strongestPatch(
    db,
    core.flatMap((c) => (belowIds.has(c.neuron) ? [belowIds.get(c.neuron)!] : [])),
  );
  return {
    layer,
    upper: l.upper,
    lower: l.lower,
    neuron,
    semanticGroups: sgs.map((s) => {
      const rows = top.filter((r) => r.semanticGroup === s.semanticGroup).slice(0, MAX_GROUP_PATCHES);
      return {
        semanticGroup: s.semanticGroup,
        patches: rows.map((r) => r.patchIdx),
        activations: rows.map((r) => r.activation),
        patchCount: top.filter((r) => r.semanticGroup === s.semanticGroup).length,
        neuronGroup: s.neuronGroupId,
      };
    }),
    topActivation: top[0]?.activation ?? null,
    coreNeurons: core.map((c) => {
      const tid = belowIds.get(c.neuron);
      const tp = tid == null ? undefined : coreTop.get(tid);
      return {
        neuron: c.neuron,
        rank: c.rank,
        importance: t.importance[c.neuron] ?? 0,
        edges: (edges.get(c.neuron) ?? []).map((e) => ({ semanticGroup: e.semanticGroup, weight: e.weight })),
        isTarget: tid != null,
        topPatch: tp?.patch ?? null,
        topActivation: tp?.activation ?? null,
      };
    }),
    parents,
    igCompleteness: t.igCompleteness,
  };
}

/** The strongest top patch (rank 0) of each target row id, with its activation. */
function strongestPatch(db: Db, targetIds: number[]): Map<number, { patch: number; activation: number }> {
  if (targetIds.length === 0) return new Map();
  return new Map(
    db
      .select()
      .from(targetTopPatches)
      .where(and(inArray(targetTopPatches.targetId, targetIds), eq(targetTopPatches.rank, 0)))
      .all()
      .map((r) => [r.targetId, { patch: r.patchIdx, activation: r.activation }] as const),
  );
}

/** Patch `idx` of a circuit with its image's file name. */
export function patchWithImage(
  db: Db,
  circuitId: number,
  idx: number,
): { imageName: string; imageIdx: number; x: number; y: number; size: number; inputSize: number } | null {
  const row = db.$client
    .prepare(
      `select i.name as imageName, p.image_idx as imageIdx, p.x as x, p.y as y, p.size as size, c.model_input_size as inputSize
       from circuit_patches p join circuit_images i on i.circuit_id = p.circuit_id and i.idx = p.image_idx
       join circuits c on c.id = p.circuit_id where p.circuit_id = ? and p.idx = ?`,
    )
    .get(circuitId, idx) as
    | { imageName: string; imageIdx: number; x: number; y: number; size: number; inputSize: number }
    | undefined;
  return row ?? null;
}
