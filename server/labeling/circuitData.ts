/**
 * What labeling needs from a stored circuit: its layer entries, each neuron group's concept patches
 * (the union of its members' top patches in their semantic group, strongest first), the group
 * edges, and the files of the circuit's class images.
 */
import type Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Db } from "~/db/client";
import { isPlainFileName } from "~/server/storage/paths";
import type { PatchBox } from "./grid";

export interface GroupInfo {
  layer: number;
  group: number;
  rowId: number;
  layerName: string;
  memberCount: number;
  /** Patch indices of the concept, strongest first (by best rank among members, then activation). */
  patches: number[];
}

export interface EdgeInfo {
  layer: number;
  child: number;
  parent: number;
  rowId: number;
  weight: number;
}

export interface CircuitForLabels {
  id: number;
  className: string;
  inputSize: number;
  layers: { idx: number; upper: string; lower: string }[];
  groups: GroupInfo[];
  edges: EdgeInfo[];
  patches: PatchBox[];
  imageNames: string[];
}

const sqlite = (db: Db): Database.Database => db.$client;

export function loadCircuitForLabels(db: Db, circuitId: number): CircuitForLabels | null {
  const c = sqlite(db).prepare("select id, class_name, model_input_size from circuits where id = ?").get(circuitId) as
    | { id: number; class_name: string; model_input_size: number }
    | undefined;
  if (!c) return null;
  const layers = sqlite(db)
    .prepare("select id, idx, upper, lower from circuit_layers where circuit_id = ? order by idx")
    .all(circuitId) as {
    id: number;
    idx: number;
    upper: string;
    lower: string;
  }[];
  const groups: GroupInfo[] = [];
  const edges: EdgeInfo[] = [];
  const patchesQ = sqlite(db).prepare(
    `select g.id as gid, p.patch_idx as patch, p.rank as rank, p.activation as act
     from neuron_groups g
     join neuron_group_members m on m.neuron_group_id = g.id
     join circuit_targets t on t.layer_id = g.layer_id and t.neuron = m.neuron
     join target_top_patches p on p.target_id = t.id and p.semantic_group = m.semantic_group
     where g.layer_id = ?`,
  );
  for (const l of layers) {
    const gs = sqlite(db)
      .prepare(
        "select g.id, g.group_id, (select count(distinct neuron) from neuron_group_members m where m.neuron_group_id = g.id) as members from neuron_groups g where g.layer_id = ? order by g.idx",
      )
      .all(l.id) as { id: number; group_id: number; members: number }[];
    const best = new Map<number, Map<number, { rank: number; act: number }>>();
    for (const r of patchesQ.all(l.id) as { gid: number; patch: number; rank: number; act: number }[]) {
      let m = best.get(r.gid);
      if (!m) best.set(r.gid, (m = new Map()));
      const prev = m.get(r.patch);
      if (!prev || r.rank < prev.rank || (r.rank === prev.rank && r.act > prev.act))
        m.set(r.patch, { rank: r.rank, act: r.act });
    }
    for (const g of gs) {
      const m = best.get(g.id) ?? new Map<number, { rank: number; act: number }>();
      const patches = [...m.entries()]
        .sort((a, b) => a[1].rank - b[1].rank || b[1].act - a[1].act || a[0] - b[0])
        .map(([p]) => p);
      groups.push({
        layer: l.idx,
        group: g.group_id,
        rowId: g.id,
        layerName: l.upper,
        memberCount: g.members,
        patches,
      });
    }
    const es = sqlite(db)
      .prepare("select id, child, parent, weight from group_edges where layer_id = ? order by idx")
      .all(l.id) as {
      id: number;
      child: number;
      parent: number;
      weight: number;
    }[];
    for (const e of es) edges.push({ layer: l.idx, child: e.child, parent: e.parent, rowId: e.id, weight: e.weight });
  }
  const patches = (
    sqlite(db)
      .prepare("select image_idx, x, y, size from circuit_patches where circuit_id = ? order by idx")
      .all(circuitId) as {
      image_idx: number;
      x: number;
      y: number;
      size: number;
    }[]
  ).map((p): PatchBox => [p.image_idx, p.x, p.y, p.size]);
  const imageNames = (
    sqlite(db).prepare("select name from circuit_images where circuit_id = ? order by idx").all(circuitId) as {
      name: string;
    }[]
  ).map((r) => r.name);
  return {
    id: c.id,
    className: c.class_name,
    inputSize: c.model_input_size,
    layers: layers.map(({ idx, upper, lower }) => ({ idx, upper, lower })),
    groups,
    edges,
    patches,
    imageNames,
  };
}

/**
 * The files of the circuit's images: from its run's dataset; for an imported circuit, from any
 * registered dataset whose class folder holds every one of them. Null when none does.
 */
export function circuitImageFiles(db: Db, circuitId: number): string[] | null {
  const c = sqlite(db).prepare("select run_id, class_name from circuits where id = ?").get(circuitId) as
    | { run_id: number | null; class_name: string }
    | undefined;
  if (!c) return null;
  const names = (
    sqlite(db).prepare("select name from circuit_images where circuit_id = ? order by idx").all(circuitId) as {
      name: string;
    }[]
  ).map((r) => r.name);
  if (names.length === 0) return null;
  // stored names are plain file names (the import checks them); never follow anything else out of a dataset
  if (![c.class_name, ...names].every(isPlainFileName)) return null;
  const dirs: string[] = [];
  if (c.run_id != null) {
    const d = sqlite(db)
      .prepare("select d.dir from runs r join datasets d on d.id = r.dataset_id where r.id = ?")
      .get(c.run_id) as { dir: string } | undefined;
    if (d) dirs.push(d.dir);
  }
  const candidates = sqlite(db)
    .prepare(
      "select distinct d.dir from images i join datasets d on d.id = i.dataset_id where i.class_name = ? and i.file_name = ? order by d.id desc",
    )
    .all(c.class_name, names[0]!) as { dir: string }[];
  for (const d of candidates) if (!dirs.includes(d.dir)) dirs.push(d.dir);
  for (const dir of dirs) {
    const files = names.map((n) => join(dir, c.class_name, n));
    if (files.every((f) => existsSync(f))) return files;
  }
  return null;
}

/** The edges to explain: for each parent group, its `perParent` strongest child edges by |W|. */
export function strongestEdges(edges: readonly EdgeInfo[], perParent: number): EdgeInfo[] {
  const byParent = new Map<string, EdgeInfo[]>();
  for (const e of edges) {
    const k = `${e.layer}:${e.parent}`;
    const list = byParent.get(k) ?? [];
    list.push(e);
    byParent.set(k, list);
  }
  const out: EdgeInfo[] = [];
  for (const list of byParent.values())
    out.push(
      ...[...list].sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight) || a.child - b.child).slice(0, perParent),
    );
  return out.sort((a, b) => a.layer - b.layer || a.parent - b.parent || Math.abs(b.weight) - Math.abs(a.weight));
}
