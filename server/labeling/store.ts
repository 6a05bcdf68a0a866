/**
 * Labels (of neuron groups) and explanations (of group edges) as chains of revisions.
 *
 * A target is addressed the way the circuit document addresses it: a group by (layer index in the
 * document, group id), an edge by (layer index, child id, parent id) — the parent is a group of
 * that layer entry, the child a group of the next one down. Rows are found by those keys.
 *
 * Every change is a new revision (version = previous + 1) with provenance; the head row holds the
 * current text, its version and the review state. Writers name the version they read
 * (`expectedVersion`, 0 = "there is no label yet"); a stale one is refused with the newer head
 * (`StaleVersionError`), never overwritten. A new text resets the review state to unreviewed.
 */
import type Database from "better-sqlite3";
import type { Db } from "~/db/client";
import type { ReviewState } from "~/db/schema";

export type GroupRef = { layer: number; group: number };
export type EdgeRef = { layer: number; child: number; parent: number };
export type LabelTarget = ({ kind: "group" } & GroupRef) | ({ kind: "edge" } & EdgeRef);
export type RevisionSource = "model" | "annotator" | "revert";

export interface Head {
  id: number;
  text: string;
  description: string | null;
  version: number;
  review: ReviewState;
  updatedAt: number;
}

export interface Revision {
  version: number;
  text: string;
  description: string | null;
  source: RevisionSource;
  modelName: string | null;
  promptVersion: string | null;
  authorId: number | null;
  author: string | null;
  evidence: number[] | null;
  promptTokens: number | null;
  completionTokens: number | null;
  createdAt: number;
  /** For a revert: the version whose text it restored (the latest earlier revision with that text). */
  revertedTo: number | null;
}

export class LabelTargetError extends Error {
  override name = "LabelTargetError";
}

export class StaleVersionError extends Error {
  override name = "StaleVersionError";
  constructor(
    readonly expected: number,
    readonly current: Head | null,
  ) {
    super(
      current
        ? `someone saved a newer version (v${current.version}, you edited v${expected}); its text is: ${JSON.stringify(current.text)}`
        : `the label you edited (v${expected}) no longer exists`,
    );
  }
}

interface Spec {
  head: string;
  rev: string;
  fk: string;
  revFk: string;
  hasDescription: boolean;
}

const SPEC: Record<LabelTarget["kind"], Spec> = {
  group: { head: "labels", rev: "label_revisions", fk: "neuron_group_id", revFk: "label_id", hasDescription: true },
  edge: {
    head: "explanations",
    rev: "explanation_revisions",
    fk: "group_edge_id",
    revFk: "explanation_id",
    hasDescription: false,
  },
};

const sqlite = (db: Db): Database.Database => db.$client;

export interface ResolvedTarget {
  target: LabelTarget;
  circuitId: number;
  /** neuron_groups.id or group_edges.id */
  rowId: number;
  layerId: number;
}

/** Finds the row of a group or edge of a circuit; a clear error when it does not exist. */
export function resolveTarget(db: Db, circuitId: number, target: LabelTarget): ResolvedTarget {
  const layer = sqlite(db)
    .prepare("select id from circuit_layers where circuit_id = ? and idx = ?")
    .get(circuitId, target.layer) as { id: number } | undefined;
  if (!layer) throw new LabelTargetError(`circuit ${circuitId} has no layer entry ${target.layer}`);
  if (target.kind === "group") {
    const g = sqlite(db)
      .prepare("select id from neuron_groups where layer_id = ? and group_id = ?")
      .get(layer.id, target.group) as { id: number } | undefined;
    if (!g)
      throw new LabelTargetError(
        `layer entry ${target.layer} of circuit ${circuitId} has no neuron group ${target.group}`,
      );
    return { target, circuitId, rowId: g.id, layerId: layer.id };
  }
  const e = sqlite(db)
    .prepare("select id from group_edges where layer_id = ? and child = ? and parent = ? order by idx limit 1")
    .get(layer.id, target.child, target.parent) as { id: number } | undefined;
  if (!e)
    throw new LabelTargetError(
      `layer entry ${target.layer} of circuit ${circuitId} has no edge from group ${target.child} to group ${target.parent}`,
    );
  return { target, circuitId, rowId: e.id, layerId: layer.id };
}

interface HeadRow {
  id: number;
  text: string;
  description?: string | null;
  version: number;
  review: ReviewState;
  updated_at: number;
}

function readHead(db: Db, spec: Spec, rowId: number): Head | null {
  const r = sqlite(db).prepare(`select * from ${spec.head} where ${spec.fk} = ?`).get(rowId) as HeadRow | undefined;
  return r
    ? {
        id: r.id,
        text: r.text,
        description: r.description ?? null,
        version: r.version,
        review: r.review,
        updatedAt: r.updated_at,
      }
    : null;
}

export function getHead(db: Db, t: ResolvedTarget): Head | null {
  return readHead(db, SPEC[t.target.kind], t.rowId);
}

interface RevRow {
  version: number;
  text: string;
  description?: string | null;
  source: RevisionSource;
  model_name: string | null;
  prompt_version: string | null;
  author_id: number | null;
  author: string | null;
  evidence: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  created_at: number;
}

function parseEvidence(s: string | null): number[] | null {
  if (s == null) return null;
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) && v.every((x) => Number.isInteger(x)) ? (v as number[]) : null;
  } catch {
    return null;
  }
}

/** All revisions, oldest first. */
export function getRevisions(db: Db, t: ResolvedTarget): Revision[] {
  const spec = SPEC[t.target.kind];
  const head = readHead(db, spec, t.rowId);
  if (!head) return [];
  const rows = sqlite(db)
    .prepare(
      `select r.*, u.username as author from ${spec.rev} r left join users u on u.id = r.author_id where r.${spec.revFk} = ? order by r.version`,
    )
    .all(head.id) as RevRow[];
  const out: Revision[] = [];
  for (const r of rows) {
    const description = r.description ?? null;
    let revertedTo: number | null = null;
    if (r.source === "revert") {
      for (let i = out.length - 1; i >= 0; i--)
        if (out[i]!.text === r.text && out[i]!.description === description) {
          revertedTo = out[i]!.version;
          break;
        }
    }
    out.push({
      version: r.version,
      text: r.text,
      description,
      source: r.source,
      modelName: r.model_name,
      promptVersion: r.prompt_version,
      authorId: r.author_id,
      author: r.author,
      evidence: parseEvidence(r.evidence),
      promptTokens: r.prompt_tokens,
      completionTokens: r.completion_tokens,
      createdAt: r.created_at,
      revertedTo,
    });
  }
  return out;
}

export interface NewRevision {
  /** The version the writer read; 0 when there was no label. */
  expectedVersion: number;
  text: string;
  /** Labels only (ignored for explanations). */
  description?: string | null;
  source: RevisionSource;
  modelName?: string | null;
  promptVersion?: string | null;
  authorId?: number | null;
  evidence?: number[] | null;
  promptTokens?: number | null;
  completionTokens?: number | null;
  now?: number;
}

/**
 * Appends a revision in one transaction and moves the head to it. Refuses a stale
 * `expectedVersion`. Saving exactly the current text is a no-op that returns the head.
 */
export function saveRevision(db: Db, t: ResolvedTarget, r: NewRevision): { head: Head; created: boolean } {
  const spec = SPEC[t.target.kind];
  const now = r.now ?? Date.now();
  const description = spec.hasDescription ? (r.description ?? null) : null;
  return sqlite(db).transaction(() => {
    const head = readHead(db, spec, t.rowId);
    const current = head?.version ?? 0;
    if (r.expectedVersion !== current) throw new StaleVersionError(r.expectedVersion, head);
    if (head && head.text === r.text && head.description === description && r.source !== "model")
      return { head, created: false };
    const version = current + 1;
    let headId: number;
    if (head) {
      sqlite(db)
        .prepare(
          `update ${spec.head} set text = ?, ${spec.hasDescription ? "description = ?," : ""} version = ?, review = 'unreviewed', updated_at = ? where id = ? and version = ?`,
        )
        .run(...(spec.hasDescription ? [r.text, description] : [r.text]), version, now, head.id, current);
      headId = head.id;
    } else {
      const cols = spec.hasDescription
        ? "circuit_id, " + spec.fk + ", text, description, version, review, updated_at"
        : "circuit_id, " + spec.fk + ", text, version, review, updated_at";
      const vals = spec.hasDescription
        ? [t.circuitId, t.rowId, r.text, description, version, "unreviewed", now]
        : [t.circuitId, t.rowId, r.text, version, "unreviewed", now];
      headId = Number(
        sqlite(db)
          .prepare(`insert into ${spec.head} (${cols}) values (${vals.map(() => "?").join(", ")})`)
          .run(...vals).lastInsertRowid,
      );
    }
    const revCols = [
      spec.revFk,
      "version",
      "text",
      ...(spec.hasDescription ? ["description"] : []),
      "source",
      "model_name",
      "prompt_version",
      "author_id",
      "evidence",
      "prompt_tokens",
      "completion_tokens",
      "created_at",
    ];
    const revVals = [
      headId,
      version,
      r.text,
      ...(spec.hasDescription ? [description] : []),
      r.source,
      r.modelName ?? null,
      r.promptVersion ?? null,
      r.authorId ?? null,
      r.evidence ? JSON.stringify(r.evidence) : null,
      r.promptTokens ?? null,
      r.completionTokens ?? null,
      now,
    ];
    sqlite(db)
      .prepare(`insert into ${spec.rev} (${revCols.join(", ")}) values (${revVals.map(() => "?").join(", ")})`)
      .run(...revVals);
    return { head: readHead(db, spec, t.rowId)!, created: true };
  })();
}

/** Restores the text of any earlier revision as a new revision (source "revert"). */
export function revertTo(
  db: Db,
  t: ResolvedTarget,
  opts: { toVersion: number; expectedVersion: number; authorId: number; now?: number },
): Head {
  const revs = getRevisions(db, t);
  const target = revs.find((r) => r.version === opts.toVersion);
  if (!target) throw new LabelTargetError(`there is no revision v${opts.toVersion}`);
  const r = saveRevision(db, t, {
    expectedVersion: opts.expectedVersion,
    text: target.text,
    description: target.description,
    source: "revert",
    authorId: opts.authorId,
    evidence: target.evidence,
    now: opts.now,
  });
  return r.head;
}

/** Marks the current revision reviewed / disputed / unreviewed; refused when it is not the one the annotator saw. */
export function setReview(
  db: Db,
  t: ResolvedTarget,
  opts: { expectedVersion: number; review: ReviewState; now?: number },
): Head {
  const spec = SPEC[t.target.kind];
  return sqlite(db).transaction(() => {
    const head = readHead(db, spec, t.rowId);
    if (!head || head.version !== opts.expectedVersion) throw new StaleVersionError(opts.expectedVersion, head);
    sqlite(db)
      .prepare(`update ${spec.head} set review = ?, updated_at = ? where id = ?`)
      .run(opts.review, opts.now ?? Date.now(), head.id);
    return readHead(db, spec, t.rowId)!;
  })();
}

export interface CircuitLabels {
  groups: {
    layer: number;
    group: number;
    text: string;
    description: string | null;
    review: ReviewState;
    version: number;
  }[];
  edges: { layer: number; child: number; parent: number; text: string; review: ReviewState; version: number }[];
}

/** Every current label and explanation of a circuit, by document keys (for pages, the graph, search). */
export function circuitLabels(db: Db, circuitId: number): CircuitLabels {
  const groups = sqlite(db)
    .prepare(
      `select l.idx as layer, g.group_id as "group", b.text, b.description, b.review, b.version
       from labels b join neuron_groups g on g.id = b.neuron_group_id join circuit_layers l on l.id = g.layer_id
       where b.circuit_id = ? order by l.idx, g.idx`,
    )
    .all(circuitId) as CircuitLabels["groups"];
  const edges = sqlite(db)
    .prepare(
      `select l.idx as layer, e.child, e.parent, x.text, x.review, x.version
       from explanations x join group_edges e on e.id = x.group_edge_id join circuit_layers l on l.id = e.layer_id
       where x.circuit_id = ? order by l.idx, e.idx`,
    )
    .all(circuitId) as CircuitLabels["edges"];
  return { groups, edges };
}
