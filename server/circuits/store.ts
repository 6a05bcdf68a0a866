/**
 * Stores a `neurflow-circuit/1` document in the normalised circuit tables and reads it back.
 * `exportCircuit(importCircuit(doc))` deep-equals `doc` (strictly: absent optional fields stay
 * absent); the round trip is tested in tests/integration/circuitRoundTrip.test.ts.
 */
import { asc, eq, inArray } from "drizzle-orm";
import type { Db } from "~/db/client";
import {
  circuitImages,
  circuitLayers,
  circuitPatches,
  circuits,
  circuitTargets,
  coreNeuronEdges,
  coreNeurons,
  groupEdges,
  neuronGroupMembers,
  neuronGroups,
  semanticGroups,
  targetTopPatches,
} from "~/db/schema";
import type { Circuit, CircuitLayer, CircuitTarget } from "~/server/neurflow/light";
import { layoutNeuronGroups, layoutTargets } from "./layout";

/** Rows per multi-row INSERT (well under SQLite's bound-variable limit). */
const CHUNK = 400;

function insertChunked<T>(rows: T[], insert: (chunk: T[]) => void): void {
  for (let i = 0; i < rows.length; i += CHUNK) insert(rows.slice(i, i + CHUNK));
}

export interface StoreOptions {
  runId?: number | null;
  modelId?: number | null;
  storedBy?: number | null;
  now?: number;
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Checks what the schema cannot: in-range references. Throws a clear error. */
export function checkCircuitReferences(c: Circuit): void {
  if (c.class.index >= c.model.classes.length) throw new Error(`class.index ${c.class.index} is outside model.classes`);
  if (c.model.classes[c.class.index] !== c.class.name)
    throw new Error(
      `class.name "${c.class.name}" is not model.classes[${c.class.index}] ("${c.model.classes[c.class.index]}")`,
    );
  const seen = new Set<string>();
  c.images.forEach((name, i) => {
    if (seen.has(name)) throw new Error(`images.${i}: "${name}" appears twice`);
    seen.add(name);
  });
  c.patches.forEach((p, i) => {
    if (p[0] >= c.images.length) throw new Error(`patches.${i}: image index ${p[0]} is outside images`);
  });
  c.layers.forEach((l, li) => {
    l.targets.forEach((t, ti) => {
      const at = `layers.${li}.targets.${ti}`;
      if (t.topActivations.length !== t.topPatches.length || t.semanticGroups.length !== t.topPatches.length)
        throw new Error(`${at}: topPatches, topActivations and semanticGroups must have the same length`);
      for (const p of t.topPatches) if (p >= c.patches.length) throw new Error(`${at}: patch ${p} is outside patches`);
    });
    const ids = new Set<number>();
    for (const g of l.neuronGroups) {
      if (ids.has(g.id)) throw new Error(`layers.${li}: neuron group id ${g.id} appears twice`);
      ids.add(g.id);
    }
  });
  // a group edge joins a neuron group of its layer (parent) to one of the layer below (child)
  c.layers.forEach((l, li) => {
    const below = new Set(c.layers[li + 1]?.neuronGroups.map((g) => g.id) ?? []);
    const here = new Set(l.neuronGroups.map((g) => g.id));
    l.groupEdges.forEach((e, ei) => {
      if (!here.has(e.parent))
        throw new Error(`layers.${li}.groupEdges.${ei}: parent ${e.parent} is not a neuron group of this layer`);
      if (!below.has(e.child))
        throw new Error(`layers.${li}.groupEdges.${ei}: child ${e.child} is not a neuron group of the layer below`);
    });
  });
}

/** Stores the circuit in one transaction; returns its id. With `runId`, a second store for the same run returns the first id. */
export function importCircuit(db: Db, c: Circuit, opts: StoreOptions = {}): number {
  checkCircuitReferences(c);
  const now = opts.now ?? Date.now();
  const groupPos = layoutNeuronGroups(c);
  const targetPos = layoutTargets(c);
  return db.transaction(
    (tx) => {
      if (opts.runId != null) {
        const existing = tx.select({ id: circuits.id }).from(circuits).where(eq(circuits.runId, opts.runId)).get();
        if (existing) return existing.id;
      }
      const circuitId = tx
        .insert(circuits)
        .values({
          runId: opts.runId ?? null,
          modelId: opts.modelId ?? null,
          format: c.format,
          modelName: c.model.name,
          modelClasses: c.model.classes,
          modelInputSize: c.model.inputSize,
          modelChecksum: c.model.checksum ?? null,
          classIndex: c.class.index,
          className: c.class.name,
          params: c.params,
          createdAt: c.createdAt,
          timings: c.timings ?? null,
          layerCount: c.layers.length,
          targetCount: c.layers.reduce((a, l) => a + l.targets.length, 0),
          neuronGroupCount: c.layers.reduce((a, l) => a + l.neuronGroups.length, 0),
          patchCount: c.patches.length,
          storedAt: now,
          storedBy: opts.storedBy ?? null,
        })
        .returning({ id: circuits.id })
        .get().id;
      insertChunked(
        c.images.map((name, idx) => ({ circuitId, idx, name })),
        (rows) => tx.insert(circuitImages).values(rows).run(),
      );
      insertChunked(
        c.patches.map(([imageIdx, x, y, size], idx) => ({ circuitId, idx, imageIdx, x, y, size })),
        (rows) => tx.insert(circuitPatches).values(rows).run(),
      );
      c.layers.forEach((layer, li) => storeLayer(tx, circuitId, li, layer, groupPos[li]!, targetPos[li]!));
      return circuitId;
    },
    { behavior: "immediate" },
  );
}

function storeLayer(
  tx: Tx,
  circuitId: number,
  idx: number,
  layer: CircuitLayer,
  groupPos: { x: number; y: number }[],
  targetPos: { x: number; y: number }[],
): void {
  const layerId = tx
    .insert(circuitLayers)
    .values({ circuitId, idx, upper: layer.upper, lower: layer.lower, timings: layer.timings ?? null })
    .returning({ id: circuitLayers.id })
    .get().id;

  // neuron groups first: semantic groups point at them
  const groupRowId = new Map<string, number>(); // "neuron:semanticGroup" → neuron group row id
  layer.neuronGroups.forEach((g, gi) => {
    const patches = new Set<number>();
    for (const m of g.members) {
      const t = layer.targets.find((t) => t.neuron === m.neuron);
      t?.topPatches.forEach((p, r) => {
        if (t.semanticGroups[r] === m.semanticGroup) patches.add(p);
      });
    }
    const pos = groupPos[gi]!;
    const id = tx
      .insert(neuronGroups)
      .values({ layerId, idx: gi, groupId: g.id, patchCount: patches.size, layoutX: pos.x, layoutY: pos.y })
      .returning({ id: neuronGroups.id })
      .get().id;
    tx.insert(neuronGroupMembers)
      .values(
        g.members.map((m, mi) => ({ neuronGroupId: id, idx: mi, neuron: m.neuron, semanticGroup: m.semanticGroup })),
      )
      .run();
    for (const m of g.members) groupRowId.set(`${m.neuron}:${m.semanticGroup}`, id);
  });

  layer.targets.forEach((t, ti) => storeTarget(tx, layerId, ti, t, targetPos[ti]!, groupRowId));

  insertChunked(
    layer.groupEdges.map((e, i) => ({ layerId, idx: i, child: e.child, parent: e.parent, weight: e.weight })),
    (rows) => tx.insert(groupEdges).values(rows).run(),
  );
}

function storeTarget(
  tx: Tx,
  layerId: number,
  idx: number,
  t: CircuitTarget,
  pos: { x: number; y: number },
  groupRowId: Map<string, number>,
): void {
  const targetId = tx
    .insert(circuitTargets)
    .values({
      layerId,
      idx,
      neuron: t.neuron,
      importance: t.importance,
      igCompleteness: t.igCompleteness ?? null,
      layoutX: pos.x,
      layoutY: pos.y,
    })
    .returning({ id: circuitTargets.id })
    .get().id;
  insertChunked(
    t.topPatches.map((patchIdx, rank) => ({
      targetId,
      rank,
      patchIdx,
      activation: t.topActivations[rank]!,
      semanticGroup: t.semanticGroups[rank]!,
    })),
    (rows) => tx.insert(targetTopPatches).values(rows).run(),
  );
  insertChunked(
    t.coreNeurons.map((neuron, rank) => ({ targetId, rank, neuron })),
    (rows) => tx.insert(coreNeurons).values(rows).run(),
  );
  insertChunked(
    t.edges.map((e, i) => ({ targetId, idx: i, semanticGroup: e.semanticGroup, neuron: e.neuron, weight: e.weight })),
    (rows) => tx.insert(coreNeuronEdges).values(rows).run(),
  );
  const counts = new Map<number, number>();
  for (const s of t.semanticGroups) counts.set(s, (counts.get(s) ?? 0) + 1);
  const sg = [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([semanticGroup, patchCount]) => ({
      targetId,
      semanticGroup,
      patchCount,
      neuronGroupId: groupRowId.get(`${t.neuron}:${semanticGroup}`) ?? null,
    }));
  if (sg.length) tx.insert(semanticGroups).values(sg).run();
}

function groupBy<T, K>(rows: T[], key: (r: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const r of rows) {
    const list = m.get(key(r));
    if (list) list.push(r);
    else m.set(key(r), [r]);
  }
  return m;
}

/** Reads a stored circuit back as the document it was stored from; null when absent. */
export function exportCircuit(db: Db, circuitId: number): Circuit | null {
  const c = db.select().from(circuits).where(eq(circuits.id, circuitId)).get();
  if (!c) return null;
  const imgs = db
    .select()
    .from(circuitImages)
    .where(eq(circuitImages.circuitId, circuitId))
    .orderBy(asc(circuitImages.idx))
    .all();
  const patches = db
    .select()
    .from(circuitPatches)
    .where(eq(circuitPatches.circuitId, circuitId))
    .orderBy(asc(circuitPatches.idx))
    .all();
  const layers = db
    .select()
    .from(circuitLayers)
    .where(eq(circuitLayers.circuitId, circuitId))
    .orderBy(asc(circuitLayers.idx))
    .all();
  const layerIds = layers.map((l) => l.id);
  const targets = layerIds.length
    ? db
        .select()
        .from(circuitTargets)
        .where(inArray(circuitTargets.layerId, layerIds))
        .orderBy(asc(circuitTargets.idx))
        .all()
    : [];
  const targetIds = targets.map((t) => t.id);
  const inTargets = <T extends { targetId: number }>(rows: T[]) => groupBy(rows, (r) => r.targetId);
  const top = inTargets(
    targetIds.length
      ? db
          .select()
          .from(targetTopPatches)
          .where(inArray(targetTopPatches.targetId, targetIds))
          .orderBy(asc(targetTopPatches.rank))
          .all()
      : [],
  );
  const core = inTargets(
    targetIds.length
      ? db
          .select()
          .from(coreNeurons)
          .where(inArray(coreNeurons.targetId, targetIds))
          .orderBy(asc(coreNeurons.rank))
          .all()
      : [],
  );
  const edges = inTargets(
    targetIds.length
      ? db
          .select()
          .from(coreNeuronEdges)
          .where(inArray(coreNeuronEdges.targetId, targetIds))
          .orderBy(asc(coreNeuronEdges.idx))
          .all()
      : [],
  );
  const groups = layerIds.length
    ? db.select().from(neuronGroups).where(inArray(neuronGroups.layerId, layerIds)).orderBy(asc(neuronGroups.idx)).all()
    : [];
  const groupIds = groups.map((g) => g.id);
  const members = groupBy(
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
  const gEdges = groupBy(
    layerIds.length
      ? db.select().from(groupEdges).where(inArray(groupEdges.layerId, layerIds)).orderBy(asc(groupEdges.idx)).all()
      : [],
    (e) => e.layerId,
  );
  const targetsByLayer = groupBy(targets, (t) => t.layerId);
  const groupsByLayer = groupBy(groups, (g) => g.layerId);

  const doc: Circuit = {
    format: c.format as Circuit["format"],
    model: {
      name: c.modelName,
      classes: c.modelClasses,
      inputSize: c.modelInputSize,
      ...(c.modelChecksum != null ? { checksum: c.modelChecksum } : {}),
    },
    class: { index: c.classIndex, name: c.className },
    params: c.params,
    images: imgs.map((i) => i.name),
    patches: patches.map((p) => [p.imageIdx, p.x, p.y, p.size] as [number, number, number, number]),
    layers: layers.map((l) => ({
      upper: l.upper,
      lower: l.lower,
      targets: (targetsByLayer.get(l.id) ?? []).map((t) => {
        const tp = top.get(t.id) ?? [];
        return {
          neuron: t.neuron,
          topPatches: tp.map((r) => r.patchIdx),
          topActivations: tp.map((r) => r.activation),
          semanticGroups: tp.map((r) => r.semanticGroup),
          importance: t.importance,
          coreNeurons: (core.get(t.id) ?? []).map((r) => r.neuron),
          edges: (edges.get(t.id) ?? []).map((e) => ({
            semanticGroup: e.semanticGroup,
            neuron: e.neuron,
            weight: e.weight,
          })),
          ...(t.igCompleteness != null ? { igCompleteness: t.igCompleteness } : {}),
        };
      }),
      neuronGroups: (groupsByLayer.get(l.id) ?? []).map((g) => ({
        id: g.groupId,
        members: (members.get(g.id) ?? []).map((m) => ({ neuron: m.neuron, semanticGroup: m.semanticGroup })),
      })),
      groupEdges: (gEdges.get(l.id) ?? []).map((e) => ({ child: e.child, parent: e.parent, weight: e.weight })),
      ...(l.timings != null ? { timings: l.timings } : {}),
    })),
    createdAt: c.createdAt,
    ...(c.timings != null ? { timings: c.timings } : {}),
  };
  return doc;
}
