"use client";
/**
 * A circuit's evaluations page: start forms (annotators), the evaluation jobs with live progress
 * (polled while one is queued or running) and cancel, and the stored results drawn as SVG plots
 * with SVG / PNG / CSV exports. Image debugging and group masking are in ImageDebugPanel.
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState, type ReactNode } from "react";
import {
  EVALUATION_DEFAULTS,
  EVALUATION_LIMITS,
  EVALUATION_TITLES,
  estimateUnits,
  optimalityTaus,
  type EvaluationKindName,
} from "~/lib/evaluations/params";
import type { FidelityOfNeuronsResult, FidelityOfWeightsResult, OptimalityResult } from "~/server/neurflow";
import { useTRPC } from "~/trpc/react";
import { buttonClass, ErrorBox, inputClass, StatusBadge, when } from "../ui";
export type { EvaluationsPageData, EvaluationList } from "./shared";
import { ImageDebugPanel } from "./ImageDebugPanel";
import {
  live,
  parseNumbers,
  ResultPicker,
  Section,
  type EvaluationJob,
  type EvaluationList,
  type EvaluationsPageData,
  type StoredResult,
} from "./shared";
import { FaithfulnessCard } from "./FaithfulnessCard";
import { PlotCard } from "./PlotCard";
import {
  fidelityOfNeuronsCsv,
  FidelityOfNeuronsPlot,
  fidelityOfWeightsCsv,
  FidelityOfWeightsPlot,
  optimalityCsv,
  OptimalityPlot,
} from "./plots";

function Field({ label, children, hint }: { label: string; children: ReactNode; hint?: string }) {
  return (
    <label className="flex flex-col gap-1 text-sm">
      <span>
        {label}
        {hint && <span className="ml-1 text-xs text-zinc-500">{hint}</span>}
      </span>
      {children}
    </label>
  );
}

type Start = (request: unknown) => void;

function Cost({
  kind,
  params,
  data,
}: {
  kind: EvaluationKindName;
  params: Record<string, unknown>;
  data: EvaluationsPageData;
}) {
  const units = estimateUnits(kind, params, {
    layers: data.layers.length,
    tau: data.circuit.tau,
    groups: data.layers.reduce((n, l) => n + l.groups.length, 0),
  });
  const what = kind === "faithfulness" || kind === "fidelityOfNeurons" ? "masked forward passes" : "knockouts";
  return (
    <span className="text-xs text-zinc-500">
      {kind === "faithfulness" ? "at most" : "≈"} {units.toLocaleString("en")} {what}
    </span>
  );
}

function NumberField({
  label,
  value,
  set,
  min,
  max,
  hint,
  step,
}: {
  label: string;
  value: string;
  set: (v: string) => void;
  min: number;
  max: number;
  hint?: string;
  step?: number;
}) {
  return (
    <Field label={label} hint={hint}>
      <input
        className={inputClass}
        type="number"
        min={min}
        max={max}
        step={step ?? 1}
        value={value}
        onChange={(e) => set(e.target.value)}
      />
    </Field>
  );
}

function PairsField({
  data,
  pairs,
  setPairs,
}: {
  data: EvaluationsPageData;
  pairs: number[];
  setPairs: (p: number[]) => void;
}) {
  return (
    <fieldset className="flex flex-wrap gap-3 text-sm">
      <legend className="mb-1">Layer pairs</legend>
      {data.layers.map((l) => (
        <label key={l.index} className="flex items-center gap-1">
          <input
            type="checkbox"
            checked={pairs.includes(l.index)}
            onChange={(e) =>
              setPairs(
                e.target.checked ? [...pairs, l.index].sort((a, b) => a - b) : pairs.filter((p) => p !== l.index),
              )
            }
          />
          {l.upper} ← {l.lower}
        </label>
      ))}
    </fieldset>
  );
}

const SEED_MAX = 2 ** 31 - 1;

interface FormProps {
  data: EvaluationsPageData;
  start: Start;
  pending: boolean;
}

/** One evaluation's start form: its fields, then Start and a note on the cost; submits `{ kind, params }`. */
function EvaluationForm({
  kind,
  params,
  start,
  pending,
  note,
  children,
}: {
  kind: EvaluationKindName;
  params: Record<string, unknown>;
  start: Start;
  pending: boolean;
  note: ReactNode;
  children: ReactNode;
}) {
  return (
    <form
      className="grid gap-3 sm:grid-cols-3"
      data-testid={`form-${kind}`}
      onSubmit={(e) => {
        e.preventDefault();
        start({ kind, params });
      }}
    >
      {children}
      <div className="flex items-end gap-3">
        <button className={buttonClass} disabled={pending} type="submit">
          Start
        </button>
        {note}
      </div>
    </form>
  );
}

function OptimalityForm({ data, start, pending }: FormProps) {
  const d = EVALUATION_DEFAULTS.optimality;
  const [pairs, setPairs] = useState(data.layers.map((l) => l.index));
  const [taus, setTaus] = useState(optimalityTaus(data.circuit.tau).join(", "));
  const [targets, setTargets] = useState(String(d.targets));
  const [randomSets, setRandomSets] = useState(String(d.randomSets));
  const [k, setK] = useState(String(Math.min(d.k, data.circuit.patchCount)));
  const [seed, setSeed] = useState(String(d.seed));
  const params = {
    pairs,
    taus: parseNumbers(taus) ?? [],
    targets: Number(targets),
    randomSets: Number(randomSets),
    k: Number(k),
    seed: Number(seed),
  };
  return (
    <EvaluationForm
      kind="optimality"
      params={params}
      start={start}
      pending={pending}
      note={<Cost kind="optimality" params={params} data={data} />}
    >
      <div className="sm:col-span-3">
        <PairsField data={data} pairs={pairs} setPairs={setPairs} />
      </div>
      <Field label="τ values" hint={`(up to ${EVALUATION_LIMITS.taus}; default: the circuit's τ and twice it)`}>
        <input className={inputClass} value={taus} onChange={(e) => setTaus(e.target.value)} name="taus" />
      </Field>
      <NumberField
        label="Targets per pair"
        value={targets}
        set={setTargets}
        min={1}
        max={EVALUATION_LIMITS.targets}
        hint="(strongest)"
      />
      <NumberField
        label="Random sets"
        value={randomSets}
        set={setRandomSets}
        min={1}
        max={EVALUATION_LIMITS.randomSets}
        hint={`(≤ ${EVALUATION_LIMITS.randomSets})`}
      />
      <NumberField
        label="k (top patches)"
        value={k}
        set={setK}
        min={1}
        max={Math.min(EVALUATION_LIMITS.k, data.circuit.patchCount)}
      />
      <NumberField label="Seed" value={seed} set={setSeed} min={0} max={SEED_MAX} />
    </EvaluationForm>
  );
}

function FidelityOfNeuronsForm({ data, start, pending }: FormProps) {
  const d = EVALUATION_DEFAULTS.fidelityOfNeurons;
  const defaultTaus = d.taus.filter((t) => t <= data.circuit.tau);
  const [taus, setTaus] = useState((defaultTaus.length ? defaultTaus : [data.circuit.tau]).join(", "));
  const [modes, setModes] = useState<string[]>([...d.modes]);
  const [scopes, setScopes] = useState<string[]>([...d.scopes]);
  const [baseline, setBaseline] = useState<string>(d.baseline);
  const [draws, setDraws] = useState(String(d.draws));
  const [seed, setSeed] = useState(String(d.seed));
  const params = { taus: parseNumbers(taus) ?? [], modes, scopes, baseline, draws: Number(draws), seed: Number(seed) };
  const toggle = (list: string[], set: (v: string[]) => void, v: string, on: boolean) =>
    set(on ? [...list, v] : list.filter((x) => x !== v));
  return (
    <EvaluationForm
      kind="fidelityOfNeurons"
      params={params}
      start={start}
      pending={pending}
      note={<Cost kind="fidelityOfNeurons" params={params} data={data} />}
    >
      <Field label="τ values" hint={`(≤ the circuit's τ = ${data.circuit.tau})`}>
        <input className={inputClass} value={taus} onChange={(e) => setTaus(e.target.value)} name="taus" />
      </Field>
      <fieldset className="flex flex-col gap-1 text-sm">
        <legend>Modes and scopes</legend>
        <div className="flex gap-3">
          {["mask", "retain"].map((m) => (
            <label key={m} className="flex items-center gap-1">
              <input
                type="checkbox"
                checked={modes.includes(m)}
                onChange={(e) => toggle(modes, setModes, m, e.target.checked)}
              />{" "}
              {m}
            </label>
          ))}
        </div>
        <div className="flex gap-3">
          {["single", "multi"].map((s) => (
            <label key={s} className="flex items-center gap-1">
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) => toggle(scopes, setScopes, s, e.target.checked)}
              />{" "}
              {s === "single" ? "one layer" : "classifier down"}
            </label>
          ))}
        </div>
      </fieldset>
      <Field label="Baseline">
        <select className={inputClass} value={baseline} onChange={(e) => setBaseline(e.target.value)}>
          <option value="random">random neurons</option>
          <option value="neuronmct">NeuronMCT (|IG| to the logit)</option>
        </select>
      </Field>
      <NumberField label="Random draws" value={draws} set={setDraws} min={1} max={EVALUATION_LIMITS.neuronDraws} />
      <NumberField label="Seed" value={seed} set={setSeed} min={0} max={SEED_MAX} />
    </EvaluationForm>
  );
}

function FidelityOfWeightsForm({ data, start, pending }: FormProps) {
  const d = EVALUATION_DEFAULTS.fidelityOfWeights;
  const [pairs, setPairs] = useState(data.layers.map((l) => l.index));
  const [sizes, setSizes] = useState(d.setSizes.join(", "));
  const [targets, setTargets] = useState(String(d.targets));
  const [randomSets, setRandomSets] = useState(String(d.randomSets));
  const [k, setK] = useState(String(Math.min(d.k, data.circuit.patchCount)));
  const [seed, setSeed] = useState(String(d.seed));
  const params = {
    pairs,
    setSizes: parseNumbers(sizes) ?? [],
    targets: Number(targets),
    randomSets: Number(randomSets),
    k: Number(k),
    seed: Number(seed),
  };
  return (
    <EvaluationForm
      kind="fidelityOfWeights"
      params={params}
      start={start}
      pending={pending}
      note={<Cost kind="fidelityOfWeights" params={params} data={data} />}
    >
      <div className="sm:col-span-3">
        <PairsField data={data} pairs={pairs} setPairs={setPairs} />
      </div>
      <Field label="Set sizes" hint="(1 = every neuron alone)">
        <input className={inputClass} value={sizes} onChange={(e) => setSizes(e.target.value)} name="setSizes" />
      </Field>
      <NumberField
        label="Targets per pair"
        value={targets}
        set={setTargets}
        min={1}
        max={EVALUATION_LIMITS.weightTargets}
      />
      <NumberField
        label="Random sets per size"
        value={randomSets}
        set={setRandomSets}
        min={2}
        max={EVALUATION_LIMITS.randomSets}
        hint={`(≤ ${EVALUATION_LIMITS.randomSets})`}
      />
      <NumberField
        label="k (top patches)"
        value={k}
        set={setK}
        min={1}
        max={Math.min(EVALUATION_LIMITS.k, data.circuit.patchCount)}
      />
      <NumberField label="Seed" value={seed} set={setSeed} min={0} max={SEED_MAX} />
    </EvaluationForm>
  );
}

function FaithfulnessForm({ start, pending }: FormProps) {
  const [draws, setDraws] = useState(String(EVALUATION_DEFAULTS.faithfulness.draws));
  const [seed, setSeed] = useState(String(EVALUATION_DEFAULTS.faithfulness.seed));
  const params = { draws: Number(draws), seed: Number(seed) };
  return (
    <EvaluationForm
      kind="faithfulness"
      params={params}
      start={start}
      pending={pending}
      note={
        <span className="text-xs text-zinc-500">
          thresholds 0, 0.01, …, 1 (the viewer&apos;s slider), global and per layer; one pass per distinct set of
          visible groups, and the random draws once per distinct size
        </span>
      }
    >
      <NumberField
        label="Random draws"
        value={draws}
        set={setDraws}
        min={0}
        max={EVALUATION_LIMITS.faithfulnessDraws}
        hint="(0: none)"
      />
      <NumberField label="Seed" value={seed} set={setSeed} min={0} max={SEED_MAX} />
    </EvaluationForm>
  );
}

export function JobList({
  jobs,
  canCancel,
  onCancel,
}: {
  jobs: EvaluationJob[];
  canCancel: boolean;
  onCancel: (id: number) => void;
}) {
  if (jobs.length === 0) return <p className="text-sm text-zinc-500">No evaluation jobs yet.</p>;
  return (
    <ul className="flex flex-col gap-2" data-testid="evaluation-jobs">
      {jobs.map((j) => {
        const pct = Math.round((j.status === "succeeded" ? 1 : j.progress) * 100);
        return (
          <li
            key={j.id}
            className="flex flex-col gap-1 text-sm"
            data-testid="evaluation-job"
            data-status={j.status}
            data-kind={j.kind}
          >
            <div className="flex flex-wrap items-center gap-2">
              <StatusBadge status={j.status} />
              <span className="font-medium">{EVALUATION_TITLES[j.kind as EvaluationKindName] ?? j.kind}</span>
              <span className="text-xs text-zinc-500">
                job #{j.id} · {when(j.createdAt)}
              </span>
              <span className="tabular-nums text-xs text-zinc-500" data-testid="job-progress">
                {pct}%
              </span>
              {live(j) && <span className="truncate text-xs text-zinc-600 dark:text-zinc-300">{j.message}</span>}
              <span className="flex-1" />
              {j.evaluationId != null && (
                <a className="text-xs text-blue-700 hover:underline dark:text-blue-400" href={`#${j.kind}`}>
                  result #{j.evaluationId}
                </a>
              )}
              {canCancel && live(j) && (
                <button
                  className="rounded border border-zinc-300 px-2 py-0.5 text-xs hover:bg-zinc-100 dark:border-zinc-700"
                  disabled={j.cancelRequested}
                  onClick={() => onCancel(j.id)}
                >
                  {j.cancelRequested ? "Canceling…" : "Cancel"}
                </button>
              )}
            </div>
            {live(j) && (
              <div
                className="h-1.5 w-full overflow-hidden rounded bg-zinc-200 dark:bg-zinc-800"
                role="progressbar"
                aria-label={`Progress of job #${j.id}`}
                aria-valuenow={pct}
                aria-valuemin={0}
                aria-valuemax={100}
              >
                <div className="h-full bg-blue-600 transition-all" style={{ width: `${pct}%` }} />
              </div>
            )}
            {j.error && <span className="text-xs text-red-700 dark:text-red-400">{j.error}</span>}
          </li>
        );
      })}
    </ul>
  );
}

export function EvaluationsView({ data, initial }: { data: EvaluationsPageData; initial: EvaluationList }) {
  const trpc = useTRPC();
  const input = { circuitId: data.circuit.id };
  const list = useQuery(
    trpc.evaluations.list.queryOptions(input, {
      initialData: initial,
      refetchInterval: (q) => (q.state.data?.jobs.some(live) ? 1500 : false),
      refetchIntervalInBackground: true,
    }),
  );
  const current = list.data ?? initial;
  const refetch = () => void list.refetch();
  const start = useMutation(trpc.evaluations.start.mutationOptions({ onSuccess: refetch }));
  const cancel = useMutation(trpc.evaluations.cancel.mutationOptions({ onSuccess: refetch }));
  const byKind = useMemo(() => {
    const m = new Map<string, StoredResult[]>();
    for (const r of current.results) m.set(r.kind, [...(m.get(r.kind) ?? []), r]);
    return m;
  }, [current.results]);
  // which form the last start came from: its error shows under that form
  const [startedKind, setStartedKind] = useState<string | null>(null);
  const doStart: Start = (request) => {
    setStartedKind((request as { kind: string }).kind);
    start.mutate({ circuitId: data.circuit.id, request } as never);
  };
  const file = (kind: string, r: StoredResult) =>
    `circuit-${data.circuit.id}-${data.circuit.className.replace(/[^A-Za-z0-9_.-]/g, "_")}-${kind}-${r.id}`;
  const form = (kind: string, node: ReactNode) =>
    data.canStart ? (
      <details className="rounded border border-zinc-200 p-2 dark:border-zinc-700">
        <summary className="cursor-pointer text-sm font-medium">New run…</summary>
        <div className="mt-3">{node}</div>
        {start.error && startedKind === kind && (
          <div className="mt-2" data-testid={`start-error-${kind}`}>
            <ErrorBox>{start.error.message}</ErrorBox>
          </div>
        )}
      </details>
    ) : null;

  return (
    <div className="flex flex-col gap-6">
      <section className="rounded-lg border border-zinc-200 bg-white p-4 shadow-sm dark:border-zinc-800 dark:bg-zinc-900">
        <h2 className="mb-2 text-base font-semibold">Jobs</h2>
        {cancel.error && <ErrorBox>{cancel.error.message}</ErrorBox>}
        {!data.canStart && (
          <p className="mb-2 text-sm text-zinc-500">
            Starting evaluations needs the annotator role; you can read the results.
          </p>
        )}
        <JobList jobs={current.jobs} canCancel={data.canStart} onCancel={(jobId) => cancel.mutate({ jobId })} />
      </section>

      <Section
        id="optimality"
        title={EVALUATION_TITLES.optimality}
        description="For the strongest targets of each layer pair, knock out the target's τ core neurons and many random τ-sets of the same layer; retention = share of the target's top-k patches still in its top k. Bars: mean retention(random) − retention(core) with 99% confidence whiskers (above 0: the core set disrupts more). Numbers: random sets that beat the core set."
      >
        {form("optimality", <OptimalityForm data={data} start={doStart} pending={start.isPending} />)}
        <ResultPicker
          layers={data.layers}
          kind="optimality"
          results={byKind.get("optimality") ?? []}
          render={(r) => {
            const res = r.result as OptimalityResult;
            return (
              <PlotCard
                name={file("optimality", r)}
                csv={() => optimalityCsv(res)}
                testId="plotcard-optimality"
                caption={
                  res.skipped.length
                    ? `skipped: ${res.skipped.map((s) => `pair ${s.pairIndex} τ ${s.tau} (${s.reason})`).join("; ")}`
                    : null
                }
              >
                <OptimalityPlot result={res} />
              </PlotCard>
            );
          }}
        />
      </Section>

      <Section
        id="fidelityOfNeurons"
        title={EVALUATION_TITLES.fidelityOfNeurons}
        description="Class accuracy on the circuit's images when the core neurons are masked (zeroed) or retained (everything else zeroed), at one layer or from the classifier down to it, against as many baseline neurons (paper, Figure 5). Solid: core neurons; dashed: baseline ± std; dotted: unmasked accuracy."
      >
        {form("fidelityOfNeurons", <FidelityOfNeuronsForm data={data} start={doStart} pending={start.isPending} />)}
        <ResultPicker
          layers={data.layers}
          kind="fidelityOfNeurons"
          results={byKind.get("fidelityOfNeurons") ?? []}
          render={(r) => {
            const res = r.result as FidelityOfNeuronsResult;
            return (
              <PlotCard
                name={file("fidelity-of-neurons", r)}
                csv={() => fidelityOfNeuronsCsv(res)}
                testId="plotcard-fidelityOfNeurons"
                caption={`core neurons per layer: ${res.coreCounts.map((c) => `τ ${c.tau}: ${c.counts.join("/")}`).join(" · ")} · ${res.params.images} images`}
              >
                <FidelityOfNeuronsPlot result={res} />
              </PlotCard>
            );
          }}
        />
      </Section>

      <Section
        id="fidelityOfWeights"
        title={EVALUATION_TITLES.fidelityOfWeights}
        description="Knock out every neuron alone and many random sets of larger sizes; the Pearson correlation between a set's summed importance and its knockout retention should be negative (more important sets disrupt more). Drawn: |r| per set size, one line per layer pair."
      >
        {form("fidelityOfWeights", <FidelityOfWeightsForm data={data} start={doStart} pending={start.isPending} />)}
        <ResultPicker
          layers={data.layers}
          kind="fidelityOfWeights"
          results={byKind.get("fidelityOfWeights") ?? []}
          render={(r) => {
            const res = r.result as FidelityOfWeightsResult;
            return (
              <PlotCard
                name={file("fidelity-of-weights", r)}
                csv={() => fidelityOfWeightsCsv(res)}
                testId="plotcard-fidelityOfWeights"
                caption={
                  res.skipped.length
                    ? `skipped: ${res.skipped.map((s) => `pair ${s.pairIndex} size ${s.size}`).join(", ")}`
                    : null
                }
              >
                <FidelityOfWeightsPlot result={res} />
              </PlotCard>
            );
          }}
        />
      </Section>

      <Section
        id="faithfulness"
        title={EVALUATION_TITLES.faithfulness}
        description="The class logit retained on the circuit's images (0: the masked layers emptied, 1: the full network) when, at every layer the viewer shows below the logit, every neuron outside the groups visible at a threshold is zeroed (all layers at once), over the whole threshold range, in both threshold modes, against random neurons of equal size per layer. The viewer draws the curve with its current threshold marked."
      >
        {form("faithfulness", <FaithfulnessForm data={data} start={doStart} pending={start.isPending} />)}
        <ResultPicker
          layers={data.layers}
          kind="faithfulness"
          results={byKind.get("faithfulness") ?? []}
          render={(r) => <FaithfulnessCard result={r.result} name={file("faithfulness", r)} />}
        />
      </Section>

      <ImageDebugPanel data={data} results={byKind} onStarted={refetch} file={file} />
    </div>
  );
}
