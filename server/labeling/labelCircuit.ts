/**
 * Labels a stored circuit: every neuron group gets a short label and a one-sentence description
 * from its concept-patch grid; then, for each parent group, the edges from its strongest child
 * groups (by |W|) get an explanation reasoned step by step from both grids and both labels.
 *
 * Each good reply is stored at once as a model revision (so a crash loses at most the calls in
 * flight and a re-run continues where it stopped). A malformed or failed item is recorded in the
 * result, never stored. Items already labeled are skipped unless `force`; a label an annotator
 * saved while the call was in flight is kept (the model's reply is dropped as stale).
 */
import { setMaxListeners } from "node:events";
import type { Db } from "~/db/client";
import { CallBudget, type LabelClient } from "./client";
import { circuitImageFiles, loadCircuitForLabels, strongestEdges, type EdgeInfo, type GroupInfo } from "./circuitData";

export { strongestEdges };
import { circuitImageDir } from "~/server/circuits/graph";
import { FilePatchSource, patchGrid, renderedPatchSource, type PatchSource } from "./grid";
import { EXPLAIN_PROMPT, fill, LABEL_PROMPT, loadPrompt } from "./prompts";
import {
  explanationJsonSchema,
  explanationReplySchema,
  explanationText,
  labelJsonSchema,
  labelReplySchema,
} from "./schemas";
import {
  getHead,
  saveRevision,
  StaleVersionError,
  type Head,
  type LabelTarget,
  type NewRevision,
  type ResolvedTarget,
} from "./store";
import type { CircuitForLabels } from "./circuitData";

export class LabelSetupError extends Error {
  override name = "LabelSetupError";
}

/**
 * Where a labeling run reads the circuit and its patch pixels and stores revisions: the database
 * (`localLabelStore`, the web machine's workers) or the platform's internal API (a worker on
 * another machine, server/jobs/platform/http.ts).
 */
export interface LabelStore {
  /** The circuit's groups, edges and patches, and where their pixels come from; LabelSetupError when it cannot be labeled. */
  open(circuitId: number): Promise<{ data: CircuitForLabels; source: PatchSource }>;
  head(t: ResolvedTarget): Promise<Head | null>;
  /** Appends a revision; StaleVersionError when someone saved a newer one meanwhile. */
  save(t: ResolvedTarget, r: NewRevision): Promise<void>;
}

export function localLabelStore(db: Db): LabelStore {
  return {
    async open(circuitId) {
      const data = loadCircuitForLabels(db, circuitId);
      if (!data) throw new LabelSetupError(`circuit ${circuitId} no longer exists`);
      // the viewer's patch renderer finds a run's images; an imported circuit's are looked up in the datasets
      if (circuitImageDir(db, circuitId)) return { data, source: renderedPatchSource(db, circuitId) };
      const files = circuitImageFiles(db, circuitId);
      if (!files)
        throw new LabelSetupError(
          `the images of circuit ${circuitId} (class "${data.className}") are not in any registered dataset`,
        );
      return { data, source: new FilePatchSource(files, data.inputSize, data.patches) };
    },
    async head(t) {
      return getHead(db, t);
    },
    async save(t, r) {
      saveRevision(db, t, r);
    },
  };
}

export interface LabelRunOptions {
  force?: boolean;
  /** Cap on calls for this job (at most the configured cap). */
  maxCalls?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, message: string) => void | Promise<void>;
  onLog?: (message: string, data?: Record<string, unknown>) => void | Promise<void>;
}

export interface ItemFailure {
  kind: "group" | "edge";
  layer: number;
  group?: number;
  child?: number;
  parent?: number;
  error: string;
}

export interface LabelRunResult {
  labeled: number;
  explained: number;
  /** Already labeled (not forced), or an annotator saved meanwhile. */
  skipped: number;
  /** Not attempted because the call cap was reached. */
  notAttempted: number;
  failed: ItemFailure[];
  calls: number;
  promptTokens: number;
  completionTokens: number;
  capReached: boolean;
  model: string;
  prompts: { label: string; explain: string };
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(
  items: readonly T[],
  n: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(n, items.length)) }, async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

const describeTarget = (t: LabelTarget) =>
  t.kind === "group"
    ? `group ${t.group} of layer entry ${t.layer}`
    : `edge ${t.child}→${t.parent} of layer entry ${t.layer}`;

type Usage = { promptTokens: number; completionTokens: number };
type Asked<T> =
  | { ok: true; value: T; usage: Usage; calls: number }
  | { ok: false; error: string; usage: Usage; calls: number; budgetExhausted?: boolean };

/** What both passes of one labeling run share: the circuit's data, the prompts, the call budget, the result so far. */
interface LabelRun {
  store: LabelStore;
  circuitId: number;
  client: LabelClient;
  opts: LabelRunOptions;
  data: CircuitForLabels;
  limits: LabelClient["limits"];
  labelPrompt: ReturnType<typeof loadPrompt>;
  explainPrompt: ReturnType<typeof loadPrompt>;
  budget: CallBudget;
  result: LabelRunResult;
  groupByKey: Map<string, GroupInfo>;
  edgesToDo: EdgeInfo[];
  total: number;
  done: number;
  /** The group's patches shown to the model. */
  shown: (g: GroupInfo) => number[];
  /** The group's patch grid (PNG), drawn once per run. */
  grid: (g: GroupInfo) => Promise<Buffer>;
}

/** Checks the circuit and its images, and sets up a run (nothing is asked yet). */
async function startRun(
  store: LabelStore,
  circuitId: number,
  client: LabelClient,
  opts: LabelRunOptions,
): Promise<LabelRun> {
  const { data, source } = await store.open(circuitId);
  // every call in flight (and every back-off wait) listens on the job's signal
  if (opts.signal) setMaxListeners(Math.max(50, client.limits.concurrency * 4), opts.signal);
  const labelPrompt = loadPrompt(LABEL_PROMPT);
  const explainPrompt = loadPrompt(EXPLAIN_PROMPT);
  const limits = client.limits;
  const budget = new CallBudget(Math.min(limits.maxCalls, opts.maxCalls ?? limits.maxCalls));
  const result: LabelRunResult = {
    labeled: 0,
    explained: 0,
    skipped: 0,
    notAttempted: 0,
    failed: [],
    calls: 0,
    promptTokens: 0,
    completionTokens: 0,
    capReached: false,
    model: client.model,
    prompts: { label: labelPrompt.version, explain: explainPrompt.version },
  };

  const groupByKey = new Map(data.groups.map((g) => [`${g.layer}:${g.group}`, g]));
  const shown = (g: GroupInfo) => g.patches.slice(0, limits.patchesPerGroup);
  const grids = new Map<number, Promise<Buffer>>();
  const grid = (g: GroupInfo) => {
    let p = grids.get(g.rowId);
    if (!p) {
      p = patchGrid(source, shown(g));
      p.catch(() => {});
      grids.set(g.rowId, p);
    }
    return p;
  };

  const edgesToDo = strongestEdges(data.edges, limits.edgesPerParent);
  const total = data.groups.length + edgesToDo.length;
  return {
    store,
    circuitId,
    client,
    opts,
    data,
    limits,
    labelPrompt,
    explainPrompt,
    budget,
    result,
    groupByKey,
    edgesToDo,
    total,
    done: 0,
    shown,
    grid,
  };
}

const resolvedGroup = (run: LabelRun, g: GroupInfo): ResolvedTarget => ({
  target: { kind: "group", layer: g.layer, group: g.group },
  circuitId: run.circuitId,
  rowId: g.rowId,
  layerId: 0,
});
const resolvedEdge = (run: LabelRun, e: EdgeInfo): ResolvedTarget => ({
  target: { kind: "edge", layer: e.layer, child: e.child, parent: e.parent },
  circuitId: run.circuitId,
  rowId: e.rowId,
  layerId: 0,
});

async function tick(run: LabelRun, what: string): Promise<void> {
  run.done++;
  await run.opts.onProgress?.(run.done, run.total, what);
}

async function fail(run: LabelRun, t: LabelTarget, error: string): Promise<void> {
  const f: ItemFailure =
    t.kind === "group"
      ? { kind: "group", layer: t.layer, group: t.group, error }
      : { kind: "edge", layer: t.layer, child: t.child, parent: t.parent, error };
  run.result.failed.push(f);
  await run.opts.onLog?.(`${describeTarget(t)}: failed: ${error}`, { failure: f });
}

const retryLog = (run: LabelRun, t: LabelTarget) => (why: string, waitMs: number) =>
  void run.opts.onLog?.(`${describeTarget(t)}: ${why}; retrying${waitMs ? ` in ${Math.round(waitMs)} ms` : ""}`);

/** Common path of one item: skip / ask / store. */
async function item<T>(
  run: LabelRun,
  rt: ResolvedTarget,
  ask: () => Promise<Asked<T>>,
  store: (value: T, expectedVersion: number, usage: Usage) => Promise<void>,
): Promise<boolean> {
  const { opts, result } = run;
  const before = await run.store.head(rt);
  if (before && !opts.force) {
    result.skipped++;
    return false;
  }
  const r = await ask();
  result.calls += r.calls;
  result.promptTokens += r.usage.promptTokens;
  result.completionTokens += r.usage.completionTokens;
  if (!r.ok) {
    if ("budgetExhausted" in r && r.budgetExhausted && r.calls === 0) {
      result.capReached = true;
      result.notAttempted++;
      return false;
    }
    if ("budgetExhausted" in r && r.budgetExhausted) result.capReached = true;
    await fail(run, rt.target, r.error);
    return false;
  }
  try {
    await store(r.value, before?.version ?? 0, r.usage);
    return true;
  } catch (e) {
    if (e instanceof StaleVersionError) {
      result.skipped++;
      await opts.onLog?.(
        `${describeTarget(rt.target)}: kept the annotator's newer text (v${e.current?.version ?? "?"}); the model's reply was not stored`,
      );
      return false;
    }
    throw e;
  }
}

/** The label pass: a label and a description of every group, from its patch grid. */
async function labelGroups(run: LabelRun): Promise<void> {
  const { store, client, opts, data, limits, labelPrompt, budget, result, shown, grid } = run;
  await pool(
    data.groups,
    limits.concurrency,
    async (g) => {
      const rt = resolvedGroup(run, g);
      if (g.patches.length === 0) {
        await fail(run, rt.target, "the group has no concept patches");
        await tick(run, `group ${g.group}`);
        return;
      }
      const ok = await item(
        run,
        rt,
        async () => {
          let png: Buffer;
          try {
            png = await grid(g);
          } catch (e) {
            return {
              ok: false as const,
              error: `cannot draw the patches: ${(e as Error).message}`,
              usage: { promptTokens: 0, completionTokens: 0 },
              calls: 0,
            };
          }
          const values = {
            className: data.className,
            layer: g.layerName,
            groupId: g.group,
            memberCount: g.memberCount,
            patchCount: g.patches.length,
            shownCount: shown(g).length,
          };
          return client.ask(
            {
              promptVersion: labelPrompt.version,
              system: fill(labelPrompt.system, values),
              user: fill(labelPrompt.user, values),
              images: [png],
              schemaName: "neuron_group_label",
              jsonSchema: labelJsonSchema,
              parse: labelReplySchema,
            },
            budget,
            opts.signal,
            retryLog(run, rt.target),
          );
        },
        (v, expectedVersion, usage) =>
          store.save(rt, {
            expectedVersion,
            text: v.label,
            description: v.description,
            source: "model",
            modelName: client.model,
            promptVersion: labelPrompt.version,
            evidence: shown(g),
            promptTokens: usage.promptTokens,
            completionTokens: usage.completionTokens,
          }),
      );
      if (ok) result.labeled++;
      await tick(run, `group ${g.group} of ${g.layerName}`);
    },
    opts.signal,
  );
}

/** The explanation pass: the strongest edges into each parent, reasoned from both grids and both labels (those just written). */
async function explainEdges(run: LabelRun): Promise<void> {
  const { store, client, opts, data, limits, explainPrompt, budget, result, groupByKey, edgesToDo, shown, grid } = run;
  await pool(
    edgesToDo,
    limits.concurrency,
    async (e) => {
      const rt = resolvedEdge(run, e);
      const parent = groupByKey.get(`${e.layer}:${e.parent}`);
      const child = groupByKey.get(`${e.layer + 1}:${e.child}`);
      if (!parent || !child || parent.patches.length === 0 || child.patches.length === 0) {
        await fail(run, rt.target, "the edge's groups or their patches are missing");
        await tick(run, `edge ${e.child}→${e.parent}`);
        return;
      }
      const ok = await item(
        run,
        rt,
        async () => {
          let pngs: Buffer[];
          try {
            pngs = await Promise.all([grid(parent), grid(child)]);
          } catch (err) {
            return {
              ok: false as const,
              error: `cannot draw the patches: ${(err as Error).message}`,
              usage: { promptTokens: 0, completionTokens: 0 },
              calls: 0,
            };
          }
          const [parentHead, childHead] = await Promise.all([
            store.head(resolvedGroup(run, parent)),
            store.head(resolvedGroup(run, child)),
          ]);
          const values = {
            className: data.className,
            weight: e.weight.toFixed(3),
            parentId: parent.group,
            parentLayer: parent.layerName,
            parentLabel: parentHead?.text ?? "(no label yet)",
            childId: child.group,
            childLayer: child.layerName,
            childLabel: childHead?.text ?? "(no label yet)",
          };
          return client.ask(
            {
              promptVersion: explainPrompt.version,
              system: fill(explainPrompt.system, values),
              user: fill(explainPrompt.user, values),
              images: pngs,
              schemaName: "group_edge_explanation",
              jsonSchema: explanationJsonSchema,
              parse: explanationReplySchema,
            },
            budget,
            opts.signal,
            retryLog(run, rt.target),
          );
        },
        (v, expectedVersion, usage) =>
          store.save(rt, {
            expectedVersion,
            text: explanationText(v),
            source: "model",
            modelName: client.model,
            promptVersion: explainPrompt.version,
            evidence: [...new Set([...shown(parent), ...shown(child)])],
            promptTokens: usage.promptTokens,
            completionTokens: usage.completionTokens,
          }),
      );
      if (ok) result.explained++;
      await tick(run, `edge ${e.child}→${e.parent} of ${parent.layerName}`);
    },
    opts.signal,
  );
}

export async function labelCircuit(
  store: LabelStore | Db,
  circuitId: number,
  client: LabelClient,
  opts: LabelRunOptions = {},
): Promise<LabelRunResult> {
  const run = await startRun("open" in store ? store : localLabelStore(store), circuitId, client, opts);
  await opts.onProgress?.(
    0,
    run.total,
    `labeling ${run.data.groups.length} group(s), then ${run.edgesToDo.length} edge(s)`,
  );
  // 1. labels of every group
  await labelGroups(run);
  // 2. explanations of the strongest edges (uses the labels just written)
  await explainEdges(run);
  return run.result;
}
