"use client";
/**
 * A circuit's class-dependence report (docs/evaluations-ui.md, "Class dependence"): the start form
 * (annotators), the job's live progress, and the report — one interval plot row per neuron group,
 * ranked: the class-logit drop with the group masked (its t interval over the images) against the
 * random neuron sets of equal size (their percentile interval), on the class images and on the false
 * positives; bias candidates flagged, with their concept patches and the false positives they explain.
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { imageUrls } from "~/lib/circuits/viewTypes";
import { EVALUATION_DEFAULTS, EVALUATION_LIMITS } from "~/lib/evaluations/params";
import type { ClassDependenceResult, GroupDependence } from "~/server/neurflow/light";
import { useTRPC } from "~/trpc/react";
import { buttonClass, ErrorBox, inputClass, StatusBadge, when } from "../ui";
import { niceTicks, type Csv } from "./plots";
import { PlotCard } from "./PlotCard";
import { live, type EvaluationList, type StoredResult } from "./shared";

export interface DependencePageData {
  circuit: { id: number; className: string; hasImages: boolean; layers: string[] };
  groups: { rowId: number; layer: number; groupId: number; label: string | null }[];
  datasets: { id: number; name: string }[];
  canStart: boolean;
}

type Report = ClassDependenceResult & {
  dataset?: { id: number; name: string };
  falsePositiveImages?: { set: string } | null;
};

/** A false positive (or near miss) as a thumbnail, from the report's image set. */
function FalsePositiveThumb({ report, index, circuitId }: { report: Report; index: number; circuitId: number }) {
  const f = report.falsePositives[index]!;
  const set = report.falsePositiveImages?.set;
  const name = f.name ?? `image ${f.image}`;
  return (
    <figure className="flex w-16 flex-col items-center" data-testid="dep-fp" data-assigned={f.assigned ? "1" : "0"}>
      {set ? (
        <img
          src={`/api/circuits/${circuitId}/evaluation-images/${set}/${index}`}
          alt={name}
          title={`${name} · margin ${f.margin.toFixed(2)}${f.assigned ? "" : " (near miss)"}`}
          width={56}
          height={56}
          className={`rounded ${f.assigned ? "ring-2 ring-red-500" : "opacity-70 ring-1 ring-zinc-400"}`}
        />
      ) : null}
      <figcaption className="w-16 truncate text-center text-[10px] text-zinc-500">{name}</figcaption>
    </figure>
  );
}

const fmt = (x: number) => (Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const pct = (x: number) => `${Math.round(x * 100)}%`;

function groupName(g: GroupDependence, data: DependencePageData): string {
  const row = data.groups.find((x) => x.layer === g.pairIndex && x.groupId === g.groupId);
  const id = `${g.layer} · g${g.groupId}`;
  return row?.label ? `${id} “${row.label}”` : id;
}

/** One row per group: random percentile band (grey) and the group's t interval (black / red), on a shared axis. */
function IntervalPlot({ report, data }: { report: Report; data: DependencePageData }) {
  const groups = report.groups;
  const lanes = (g: GroupDependence) => [g.classImages, g.falsePositives].filter((e) => e != null);
  const values = groups.flatMap((g) =>
    lanes(g).flatMap((e) => [e.logitDropInterval[0], e.logitDropInterval[1], e.random.low, e.random.high]),
  );
  const lo = Math.min(0, ...values);
  const hi = Math.max(0.1, ...values);
  const ticks = niceTicks(lo, hi, 6);
  const x0 = ticks[0]!;
  const x1 = ticks[ticks.length - 1]!;
  const left = 230;
  const plotW = 460;
  const right = 170;
  const laneH = 16;
  const rowH = 2 * laneH + 14;
  const top = 34;
  const W = left + plotW + right;
  const H = top + groups.length * rowH + 30;
  const sx = (v: number) => left + ((v - x0) / (x1 - x0)) * plotW;
  return (
    <svg
      xmlns="http://www.w3.org/2000/svg"
      width={W}
      height={H}
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label="Class-logit drop per group against random sets"
      style={{ background: "#fff", fontFamily: "ui-sans-serif, system-ui, sans-serif" }}
    >
      <text x={left} y={14} fontSize={11} fill="#18181b">
        drop of the “{report.class.name}” logit with the group masked
      </text>
      <rect x={left + plotW + 10} y={6} width={14} height={8} fill="#d4d4d8" />
      <text x={left + plotW + 28} y={14} fontSize={10} fill="#52525b">
        random sets ({report.params.draws} draws)
      </text>
      <line x1={left + plotW + 10} x2={left + plotW + 24} y1={24} y2={24} stroke="#18181b" strokeWidth={2} />
      <text x={left + plotW + 28} y={28} fontSize={10} fill="#52525b">
        the group, {Math.round(report.params.level * 100)}% CI
      </text>
      {ticks.map((t) => (
        <g key={t}>
          <line x1={sx(t)} x2={sx(t)} y1={top - 4} y2={H - 26} stroke={t === 0 ? "#a1a1aa" : "#f4f4f5"} />
          <text x={sx(t)} y={H - 12} fontSize={10} fill="#71717a" textAnchor="middle">
            {fmt(t)}
          </text>
        </g>
      ))}
      {groups.map((g, i) => {
        const y = top + i * rowH;
        return (
          <g
            key={`${g.pairIndex}:${g.groupId}`}
            data-testid="dep-row"
            data-rank={g.rank}
            data-layer={g.layer}
            data-group={g.groupId}
            data-drop={g.classImages.logitDrop}
            data-low={g.classImages.logitDropInterval[0]}
            data-high={g.classImages.logitDropInterval[1]}
            data-random-high={g.classImages.random.high}
            data-bias={g.biasCandidate ? "1" : "0"}
          >
            {i % 2 === 0 && <rect x={0} y={y - 2} width={W} height={rowH} fill="#fafafa" />}
            <text x={8} y={y + 12} fontSize={11} fill="#18181b" fontWeight={g.biasCandidate ? 700 : 400}>
              #{g.rank} {groupName(g, data).slice(0, 30)}
            </text>
            <text x={8} y={y + 26} fontSize={10} fill="#71717a">
              {g.neurons.length} neurons of {g.layerWidth}
              {g.biasCandidate ? " · bias candidate" : ""}
            </text>
            {[
              { e: g.classImages, label: "class", color: "#18181b" },
              { e: g.falsePositives, label: "FPs", color: "#dc2626" },
            ].map(({ e, label, color }, lane) =>
              e ? (
                <g key={label}>
                  <text x={left - 6} y={y + lane * laneH + 11} fontSize={9} fill="#71717a" textAnchor="end">
                    {label}
                  </text>
                  <rect
                    data-testid={lane === 0 ? "dep-random" : undefined}
                    x={sx(e.random.low)}
                    y={y + lane * laneH + 2}
                    width={Math.max(1, sx(e.random.high) - sx(e.random.low))}
                    height={laneH - 4}
                    fill="#d4d4d8"
                  />
                  <line
                    x1={sx(e.random.mean)}
                    x2={sx(e.random.mean)}
                    y1={y + lane * laneH + 2}
                    y2={y + lane * laneH + laneH - 2}
                    stroke="#71717a"
                  />
                  <line
                    data-testid={lane === 0 ? "dep-interval" : undefined}
                    x1={sx(e.logitDropInterval[0])}
                    x2={sx(e.logitDropInterval[1])}
                    y1={y + lane * laneH + laneH / 2}
                    y2={y + lane * laneH + laneH / 2}
                    stroke={color}
                    strokeWidth={2}
                  />
                  <circle cx={sx(e.logitDrop)} cy={y + lane * laneH + laneH / 2} r={3.5} fill={color} />
                </g>
              ) : null,
            )}
            <text x={left + plotW + 10} y={y + 12} fontSize={10} fill="#18181b">
              {g.classImages.logit > 0 ? `share ${pct(g.classImages.logitDrop / g.classImages.logit)}` : ""} · p{" "}
              {g.classImages.pValue.toFixed(3)}
            </text>
            <text x={left + plotW + 10} y={y + 26} fontSize={10} fill="#71717a">
              flips {pct(g.classImages.flips)}
              {g.falsePositives ? ` · FP flips ${pct(g.falsePositives.flips)}` : ""}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function csvOf(report: Report): Csv {
  return {
    header: [
      "rank",
      "layer",
      "group",
      "neurons",
      "drop",
      "drop_low",
      "drop_high",
      "random_mean",
      "random_low",
      "random_high",
      "p",
      "flips",
      "fp_drop",
      "fp_random_high",
      "bias_candidate",
    ],
    rows: report.groups.map((g) => [
      g.rank,
      g.layer,
      g.groupId,
      g.neurons.length,
      g.classImages.logitDrop,
      g.classImages.logitDropInterval[0],
      g.classImages.logitDropInterval[1],
      g.classImages.random.mean,
      g.classImages.random.low,
      g.classImages.random.high,
      g.classImages.pValue,
      g.classImages.flips,
      g.falsePositives?.logitDrop ?? "",
      g.falsePositives?.random.high ?? "",
      g.biasCandidate ? 1 : 0,
    ]),
  };
}

function GroupCard({ g, report, data }: { g: GroupDependence; report: Report; data: DependencePageData }) {
  const urls = imageUrls(data.circuit.id, null);
  const explained = g.explains.map((i) => report.falsePositives[i]!).filter(Boolean);
  return (
    <div
      className={`rounded border p-3 ${g.biasCandidate ? "border-red-300 bg-red-50 dark:border-red-800 dark:bg-red-950" : "border-zinc-200 dark:border-zinc-700"}`}
      data-testid="dep-card"
      data-layer={g.layer}
      data-group={g.groupId}
      data-bias={g.biasCandidate ? "1" : "0"}
    >
      <p className="text-sm font-medium">
        #{g.rank} {groupName(g, data)}
        {g.biasCandidate && (
          <span className="ml-2 rounded bg-red-600 px-1.5 py-0.5 text-xs text-white" data-testid="bias-badge">
            bias candidate
          </span>
        )}
      </p>
      <p className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">
        drop {fmt(g.classImages.logitDrop)} [{fmt(g.classImages.logitDropInterval[0])},{" "}
        {fmt(g.classImages.logitDropInterval[1])}] vs random {fmt(g.classImages.random.mean)} [
        {fmt(g.classImages.random.low)}, {fmt(g.classImages.random.high)}] · metric M {fmt(g.metricM.classImages)} on
        the class images
        {g.metricM.falsePositives != null ? `, ${fmt(g.metricM.falsePositives)} on the false positives` : ""} ·{" "}
        {g.flag.classDependence ? "the class depends on it" : "not above random"}
        {g.flag.falsePositiveShare ? " · carries the false positives" : ""}
        {g.flag.contextLike ? " · looks like context" : ""}
      </p>
      {data.circuit.hasImages && <p className="mt-2 text-[11px] font-medium text-zinc-500">its concept patches</p>}
      {data.circuit.hasImages && (
        <div className="mt-1 flex flex-wrap gap-1" role="group" aria-label="concept patches">
          {g.conceptPatches.map((p) => (
            <img
              key={p.patch}
              src={urls.patch(p.patch)}
              alt={`${p.image} at ${p.box[1]},${p.box[2]} size ${p.box[3]}`}
              title={`${p.image} · ${p.box[1]},${p.box[2]} · ${p.box[3]} px · ${p.score.toFixed(2)}× reference`}
              width={56}
              height={56}
              className="rounded"
              data-testid="dep-patch"
            />
          ))}
        </div>
      )}
      {explained.length > 0 && report.falsePositiveImages && (
        <p className="mt-2 text-[11px] font-medium text-zinc-500">
          the other classes&apos; images it explains (red ring: called “{report.class.name}”; faded: a near miss)
        </p>
      )}
      {explained.length > 0 && report.falsePositiveImages && (
        <div className="mt-1 flex flex-wrap gap-1" role="group" aria-label="false positives it explains">
          {g.explains.map((i) => (
            <FalsePositiveThumb key={i} report={report} index={i} circuitId={data.circuit.id} />
          ))}
        </div>
      )}
      {explained.length > 0 && (
        <p className="mt-2 text-xs" data-testid="dep-explains">
          Explains {explained.filter((f) => f.assigned).length} false positive(s)
          {explained.some((f) => !f.assigned)
            ? ` and ${explained.filter((f) => !f.assigned).length} near miss(es)`
            : ""}
          : {explained.map((f) => `${f.name ?? f.image}${f.assigned ? "" : " (near miss)"}`).join(", ")}
          {g.flipsFalsePositives.length > 0 &&
            ` · masking it flips ${g.flipsFalsePositives.length} of them away from “${report.class.name}”`}
        </p>
      )}
    </div>
  );
}

function ReportView({ r, data }: { r: StoredResult; data: DependencePageData }) {
  const report = r.result as Report;
  const proper = report.falsePositives.filter((f) => f.assigned);
  const flagged = report.groups.filter((g) => g.biasCandidate);
  const shown = [
    ...flagged,
    ...report.groups.filter((g) => !g.biasCandidate).slice(0, Math.max(0, 3 - flagged.length)),
  ];
  return (
    <div className="flex flex-col gap-3" data-testid="dep-report">
      <p className="text-sm" data-testid="dep-summary">
        {report.params.classImages} class images; {report.params.otherImages} images of other classes
        {report.dataset ? ` (dataset “${report.dataset.name}”)` : ""}, of which the model calls{" "}
        {pct(report.unmasked.otherAssigned)} “{report.class.name}” ({proper.length} false positives
        {report.falsePositives.length > proper.length
          ? `, topped up with ${report.falsePositives.length - proper.length} nearest misses`
          : ""}
        ). Each group is masked (its neurons zeroed) and compared with {report.params.draws} random sets of as many
        neurons of the same layer. Ranked by the drop above the random mean.{" "}
        <strong data-testid="dep-flagged">
          {flagged.length === 0
            ? "No bias candidate."
            : `${flagged.length} bias candidate${flagged.length > 1 ? "s" : ""}.`}
        </strong>
      </p>
      <PlotCard
        name={`circuit-${data.circuit.id}-class-dependence-${r.id}`}
        csv={() => csvOf(report)}
        testId="plotcard-classDependence"
        caption={`Grey: the random sets' ${Math.round(report.params.level * 100)}% percentile interval (tick: their mean); line: the group's t interval over the images, dot its mean; red lane: on the false positives.`}
      >
        <IntervalPlot report={report} data={data} />
      </PlotCard>
      <div className="grid gap-2 lg:grid-cols-2">
        {shown.map((g) => (
          <GroupCard key={`${g.pairIndex}:${g.groupId}`} g={g} report={report} data={data} />
        ))}
      </div>
    </div>
  );
}

export function DependenceView({ data, initial }: { data: DependencePageData; initial: EvaluationList }) {
  const trpc = useTRPC();
  const input = { circuitId: data.circuit.id, kind: "classDependence" as const, limit: 20 };
  const list = useQuery(
    trpc.evaluations.list.queryOptions(input, {
      initialData: initial,
      refetchInterval: (q) => (q.state.data?.jobs.some(live) ? 1500 : false),
      refetchIntervalInBackground: true,
    }),
  );
  const current = list.data ?? initial;
  const start = useMutation(trpc.evaluations.start.mutationOptions({ onSuccess: () => void list.refetch() }));
  const D = EVALUATION_DEFAULTS.classDependence;
  const [draws, setDraws] = useState(D.draws);
  const [perClass, setPerClass] = useState<number>(D.perClass);
  const [datasetId, setDatasetId] = useState<number | undefined>(data.datasets[0]?.id);
  const [picked, setPicked] = useState<number | null>(null);
  const results = current.results;
  const shown = results.find((r) => r.id === picked) ?? results[0];
  const jobs = current.jobs.filter((j) => live(j) || j.status === "failed").slice(0, 3);
  return (
    <div className="flex flex-col gap-4">
      {data.canStart && (
        <form
          className="flex flex-wrap items-end gap-3 rounded-lg border border-zinc-200 p-3 text-sm dark:border-zinc-800"
          onSubmit={(e) => {
            e.preventDefault();
            start.mutate({
              circuitId: data.circuit.id,
              request: { kind: "classDependence", params: { draws, perClass, ...(datasetId ? { datasetId } : {}) } },
            });
          }}
        >
          <label className="flex flex-col gap-1">
            Random sets per group size
            <input
              className={inputClass}
              type="number"
              min={20}
              max={EVALUATION_LIMITS.dependenceDraws}
              value={draws}
              onChange={(e) => setDraws(Number(e.target.value))}
              data-testid="dep-draws"
            />
          </label>
          <label className="flex flex-col gap-1">
            Images per other class
            <input
              className={inputClass}
              type="number"
              min={1}
              max={EVALUATION_LIMITS.dependencePerClass}
              value={perClass}
              onChange={(e) => setPerClass(Number(e.target.value))}
              data-testid="dep-per-class"
            />
          </label>
          <label className="flex flex-col gap-1">
            Other classes&apos; images from
            <select
              className={inputClass}
              value={datasetId ?? ""}
              onChange={(e) => setDatasetId(e.target.value ? Number(e.target.value) : undefined)}
              data-testid="dep-dataset"
            >
              {data.datasets.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name}
                </option>
              ))}
            </select>
          </label>
          <button className={buttonClass} type="submit" disabled={start.isPending} data-testid="dep-start">
            Compute the report
          </button>
          <span className="text-xs text-zinc-500">
            {draws} random sets per (layer, group size): the smallest p-value is 1/{draws + 1}.
          </span>
        </form>
      )}
      {start.error && <ErrorBox>{start.error.message}</ErrorBox>}
      {jobs.length > 0 && (
        <ul className="flex flex-col gap-1 text-sm" data-testid="dep-jobs">
          {jobs.map((j) => (
            <li key={j.id} className="flex flex-wrap items-center gap-2" data-testid="dep-job" data-status={j.status}>
              <StatusBadge status={j.status} /> job #{j.id} {Math.round(j.progress * 100)}%
              {j.message ? ` · ${j.message}` : ""}
              {live(j) && (
                <span
                  className="h-2 w-48 overflow-hidden rounded bg-zinc-200 dark:bg-zinc-800"
                  role="progressbar"
                  aria-valuenow={Math.round(j.progress * 100)}
                  aria-valuemin={0}
                  aria-valuemax={100}
                >
                  <span className="block h-full bg-blue-600" style={{ width: `${Math.round(j.progress * 100)}%` }} />
                </span>
              )}
              {j.error && <span className="text-red-700 dark:text-red-400">{j.error}</span>}
            </li>
          ))}
        </ul>
      )}
      {results.length > 1 && (
        <select
          className={inputClass}
          value={shown?.id}
          onChange={(e) => setPicked(Number(e.target.value))}
          aria-label="Report"
        >
          {results.map((r) => (
            <option key={r.id} value={r.id}>
              #{r.id} · {when(r.createdAt)} · {String((r.params as { draws?: number }).draws)} draws
            </option>
          ))}
        </select>
      )}
      {shown ? (
        <ReportView r={shown} data={data} />
      ) : (
        <p className="text-sm text-zinc-500" data-testid="no-results-classDependence">
          No report yet.
        </p>
      )}
    </div>
  );
}
