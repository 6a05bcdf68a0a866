/**
 * The evaluation plots, hand-written SVG (no chart library). Every plot is one <svg> with a
 * viewBox, explicit colours and a white background, so the exported SVG / PNG look like the page.
 * Each plot also says which numbers it draws (`…Csv`), for the CSV export.
 */
import type { ReactNode } from "react";
import { THRESHOLD_MODES, type ThresholdMode } from "~/lib/circuits/visibility";
import type { FaithfulnessResult } from "~/lib/evaluations/faithfulness";
import type {
  FidelityOfNeuronsResult,
  FidelityOfWeightsResult,
  GroupMaskingResult,
  OptimalityResult,
} from "~/server/neurflow";

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
const INK = "#18181b";
const MUTED = "#71717a";
const GRID = "#e4e4e7";
const FONT = "ui-sans-serif, system-ui, sans-serif";

export interface Csv {
  header: string[];
  rows: unknown[][];
}

/** About `count` round tick values; the first is ≤ min and the last ≥ max, so the ticks span the data. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const out: number[] = [];
  for (let i = first; i <= last; i++) out.push(i === 0 ? 0 : Number((i * step).toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : Number(v.toFixed(3)).toString();
}

const finite = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);

function Svg({
  width,
  height,
  title,
  children,
  testId,
}: {
  width: number;
  height: number;
  title: string;
  children: ReactNode;
  testId: string;
}) {
  return (
    <svg
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
      style={{ maxWidth: width }}
      role="img"
      aria-label={title}
      data-testid={testId}
      fontFamily={FONT}
      fontSize={11}
    >
      <title>{title}</title>
      <rect x={0} y={0} width={width} height={height} fill="#ffffff" />
      {children}
    </svg>
  );
}

/** A y axis with grid lines, from `y0` (bottom) to `y1` (top) in pixels. */
function YAxis({
  x,
  x2,
  ticks,
  scale,
  label,
}: {
  x: number;
  x2: number;
  ticks: number[];
  scale: (v: number) => number;
  label?: string;
}) {
  return (
    <g>
      {ticks.map((t) => (
        <g key={t}>
          <line x1={x} x2={x2} y1={scale(t)} y2={scale(t)} stroke={GRID} />
          <text x={x - 4} y={scale(t) + 3.5} textAnchor="end" fill={MUTED}>
            {fmt(t)}
          </text>
        </g>
      ))}
      {label && (
        <text
          transform={`translate(${x - 34} ${(scale(ticks[0]!) + scale(ticks[ticks.length - 1]!)) / 2}) rotate(-90)`}
          textAnchor="middle"
          fill={INK}
        >
          {label}
        </text>
      )}
    </g>
  );
}

/** Width of one legend entry (swatch, label at about 6.2 px per character, gap). */
const legendItemWidth = (label: string) => 22 + label.length * 6.2 + 12;

function Legend({
  x,
  y,
  items,
  dashed,
}: {
  x: number;
  y: number;
  items: { label: string; colour: string }[];
  dashed?: string;
}) {
  let cx = x;
  return (
    <g>
      {items.map((it) => {
        const at = cx;
        cx += legendItemWidth(it.label);
        return (
          <g key={it.label}>
            <rect x={at} y={y - 8} width={16} height={10} fill={it.colour} />
            <text x={at + 20} y={y + 1} fill={INK}>
              {it.label}
            </text>
          </g>
        );
      })}
      {dashed && (
        <g>
          <line x1={cx} x2={cx + 18} y1={y - 3} y2={y - 3} stroke={INK} strokeDasharray="4 3" />
          <text x={cx + 22} y={y + 1} fill={INK}>
            {dashed}
          </text>
        </g>
      )}
    </g>
  );
}

// ---------------------------------------------------------------- optimality

export function optimalityCsv(r: OptimalityResult): Csv {
  return {
    header: [
      "pair",
      "upper",
      "lower",
      "tau",
      "mean_random_minus_core",
      "ci99_low",
      "ci99_high",
      "cases",
      "random_beats_core",
      "ties",
      "core_beats_random",
      "targets",
    ],
    rows: r.cells.map((c) => [
      c.pairIndex,
      c.upper,
      c.lower,
      c.tau,
      c.difference.mean,
      c.difference.low,
      c.difference.high,
      c.cases,
      c.randomBeatsCore,
      c.ties,
      c.coreBeatsRandom,
      c.targets.map((t) => t.neuron).join(" "),
    ]),
  };
}

/** Bars of mean retention(random) − retention(core) per (layer pair, τ), 99% CI whiskers, and how often a random set beat the core set. */
export function OptimalityPlot({ result }: { result: OptimalityResult }) {
  const pairs = [...new Set(result.cells.map((c) => c.pairIndex))];
  const taus = result.params.taus;
  const W = Math.max(480, 90 + pairs.length * (taus.length * 34 + 28));
  const H = 330;
  const m = { l: 64, r: 16, t: 34, b: 76 };
  const lo = Math.min(0, ...result.cells.map((c) => c.difference.low).filter(finite));
  const hi = Math.max(0.05, ...result.cells.map((c) => c.difference.high).filter(finite));
  const ticks = niceTicks(lo, hi, 5);
  const y0 = ticks[0]!;
  const y1 = ticks[ticks.length - 1]!;
  const y = (v: number) => m.t + ((y1 - v) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const groupW = (W - m.l - m.r) / Math.max(pairs.length, 1);
  const barW = Math.min(30, (groupW - 20) / Math.max(taus.length, 1));
  return (
    <Svg width={W} height={H} title="Optimality: retention of random sets minus core sets" testId="plot-optimality">
      <YAxis x={m.l} x2={W - m.r} ticks={ticks} scale={y} label="retention: random − core" />
      <line x1={m.l} x2={W - m.r} y1={y(0)} y2={y(0)} stroke={INK} />
      {pairs.map((p, gi) => {
        const cells = result.cells.filter((c) => c.pairIndex === p);
        const gx = m.l + gi * groupW + (groupW - barW * taus.length) / 2;
        const first = cells[0]!;
        return (
          <g key={p}>
            {cells.map((c) => {
              const ti = taus.indexOf(c.tau);
              const x = gx + ti * barW + 2;
              const w = barW - 4;
              const mean = finite(c.difference.mean) ? c.difference.mean : 0;
              const top = Math.min(y(mean), y(0));
              return (
                <g key={c.tau}>
                  <rect
                    data-testid="opt-bar"
                    x={x}
                    y={top}
                    width={w}
                    height={Math.max(0.5, Math.abs(y(mean) - y(0)))}
                    fill={PALETTE[ti % PALETTE.length]}
                    opacity={0.85}
                  >
                    <title>{`${c.upper}←${c.lower}, τ ${c.tau}: ${fmt(mean)} [${fmt(c.difference.low)}, ${fmt(c.difference.high)}], random beats core in ${c.randomBeatsCore} of ${c.cases}`}</title>
                  </rect>
                  <g data-testid="opt-ci" stroke={INK}>
                    <line x1={x + w / 2} x2={x + w / 2} y1={y(c.difference.low)} y2={y(c.difference.high)} />
                    <line x1={x + w / 4} x2={x + (3 * w) / 4} y1={y(c.difference.low)} y2={y(c.difference.low)} />
                    <line x1={x + w / 4} x2={x + (3 * w) / 4} y1={y(c.difference.high)} y2={y(c.difference.high)} />
                  </g>
                  <text
                    data-testid="opt-count"
                    x={x + w / 2}
                    y={Math.min(y(c.difference.high), y(0)) - 4}
                    textAnchor="middle"
                    fill={c.randomBeatsCore > 0 ? "#b91c1c" : MUTED}
                    fontSize={9}
                  >
                    {c.randomBeatsCore}
                  </text>
                </g>
              );
            })}
            <text x={m.l + gi * groupW + groupW / 2} y={H - m.b + 16} textAnchor="middle" fill={INK}>
              {first.upper}
            </text>
            <text x={m.l + gi * groupW + groupW / 2} y={H - m.b + 29} textAnchor="middle" fill={MUTED}>
              ← {first.lower}
            </text>
          </g>
        );
      })}
      <Legend x={m.l} y={16} items={taus.map((t, i) => ({ label: `τ ${t}`, colour: PALETTE[i % PALETTE.length]! }))} />
      <text x={m.l} y={H - 24} fill={MUTED} fontSize={10}>
        whiskers: 99% CI · numbers: random sets retaining less than the core set
      </text>
      <text x={m.l} y={H - 10} fill={MUTED} fontSize={10}>
        {result.params.targets} strongest targets per pair · {result.params.randomSets} random sets · k{" "}
        {result.params.k}
      </text>
    </Svg>
  );
}

// ---------------------------------------------------------------- fidelity of neurons

export function fidelityOfNeuronsCsv(r: FidelityOfNeuronsResult): Csv {
  return {
    header: ["tau", "mode", "scope", "layer", "core_accuracy", "baseline", "baseline_accuracy", "baseline_std"],
    rows: r.curves.flatMap((c) =>
      r.layers.map((l, j) => [
        c.tau,
        c.mode,
        c.scope,
        l,
        c.core[j],
        r.params.baseline,
        c.baseline[j],
        c.baselineStd[j],
      ]),
    ),
  };
}

/** Class accuracy per layer with core neurons masked / retained (solid) vs the baseline (dashed, ± std band): one panel per mode × scope. */
export function FidelityOfNeuronsPlot({ result }: { result: FidelityOfNeuronsResult }) {
  const panels = result.params.modes.flatMap((mode) => result.params.scopes.map((scope) => ({ mode, scope })));
  const cols = panels.length > 1 ? 2 : 1;
  const PW = Math.max(280, 80 + result.layers.length * 64);
  const PH = 230;
  const rows = Math.ceil(panels.length / cols);
  const W = cols * PW;
  const H = rows * PH + 34;
  const taus = result.params.taus;
  return (
    <Svg width={W} height={H} title="Fidelity of neurons: class accuracy per layer" testId="plot-fidelityOfNeurons">
      <Legend
        x={56}
        y={16}
        items={taus.map((t, i) => ({ label: `τ ${t}`, colour: PALETTE[i % PALETTE.length]! }))}
        dashed={`${result.params.baseline} (± std)`}
      />
      {panels.map((pn, pi) => {
        const ox = (pi % cols) * PW;
        const oy = 34 + Math.floor(pi / cols) * PH;
        const m = { l: 52, r: 30, t: 22, b: 46 };
        const ticks = [0, 0.25, 0.5, 0.75, 1];
        const y = (v: number) => oy + m.t + (1 - v) * (PH - m.t - m.b);
        const n = result.layers.length;
        const x = (j: number) => ox + m.l + (n === 1 ? 0.5 : j / (n - 1)) * (PW - m.l - m.r - 10) + 5;
        const curves = result.curves.filter((c) => c.mode === pn.mode && c.scope === pn.scope);
        return (
          <g key={`${pn.mode}-${pn.scope}`} data-testid="fon-panel">
            <text x={ox + m.l} y={oy + 12} fill={INK} fontWeight={600}>
              {pn.mode === "mask" ? "mask" : "retain"} ·{" "}
              {pn.scope === "single" ? "one layer" : "classifier down to the layer"}
            </text>
            <YAxis x={ox + m.l} x2={ox + PW - m.r} ticks={ticks} scale={y} label="accuracy" />
            <line
              x1={ox + m.l}
              x2={ox + PW - m.r}
              y1={y(result.unmaskedAccuracy)}
              y2={y(result.unmaskedAccuracy)}
              stroke={MUTED}
              strokeDasharray="1 3"
            />
            {result.layers.map((l, j) => (
              <text key={l} x={x(j)} y={oy + PH - m.b + 14} textAnchor="middle" fill={INK} fontSize={10}>
                {l}
              </text>
            ))}
            {curves.map((c) => {
              const colour = PALETTE[taus.indexOf(c.tau) % PALETTE.length]!;
              const band = [
                ...c.baseline.map((b, j) => `${x(j)},${y(Math.min(1, b + (c.baselineStd[j] ?? 0)))}`),
                ...c.baseline.map((b, j) => `${x(j)},${y(Math.max(0, b - (c.baselineStd[j] ?? 0)))}`).reverse(),
              ].join(" ");
              return (
                <g key={c.tau}>
                  <polygon points={band} fill={colour} opacity={0.12} />
                  <polyline
                    points={c.baseline.map((b, j) => `${x(j)},${y(b)}`).join(" ")}
                    fill="none"
                    stroke={colour}
                    strokeDasharray="5 4"
                    strokeWidth={1.5}
                  />
                  <polyline
                    points={c.core.map((a, j) => `${x(j)},${y(a)}`).join(" ")}
                    fill="none"
                    stroke={colour}
                    strokeWidth={2}
                  />
                  {c.core.map((a, j) => (
                    <circle key={`c${j}`} data-testid="fon-core-point" cx={x(j)} cy={y(a)} r={3.5} fill={colour}>
                      <title>{`τ ${c.tau}, ${result.layers[j]}: core ${fmt(a)}, ${result.params.baseline} ${fmt(c.baseline[j]!)} ± ${fmt(c.baselineStd[j]!)}`}</title>
                    </circle>
                  ))}
                  {c.baseline.map((b, j) => (
                    <circle
                      key={`b${j}`}
                      data-testid="fon-baseline-point"
                      cx={x(j)}
                      cy={y(b)}
                      r={2.5}
                      fill="#ffffff"
                      stroke={colour}
                    />
                  ))}
                </g>
              );
            })}
          </g>
        );
      })}
    </Svg>
  );
}

// ---------------------------------------------------------------- fidelity of weights

export function fidelityOfWeightsCsv(r: FidelityOfWeightsResult): Csv {
  return {
    header: ["pair", "upper", "lower", "set_size", "r", "abs_r"],
    rows: r.pairs.flatMap((p) => p.summary.map((s) => [p.pairIndex, p.upper, p.lower, s.size, s.r, s.absR])),
  };
}

/** |r| between a set's summed importance and its knockout retention, per set size, one line per layer pair. */
export function FidelityOfWeightsPlot({ result }: { result: FidelityOfWeightsResult }) {
  const sizes = result.params.setSizes;
  const legend = result.pairs.map((p, i) => ({
    label: `${p.upper} ← ${p.lower}`,
    colour: PALETTE[i % PALETTE.length]!,
  }));
  // wide enough for the legend of every layer pair (it is one line, in the exports too)
  const W = Math.max(
    420,
    120 + sizes.length * 70,
    56 + 16 + legend.reduce((a, it) => a + legendItemWidth(it.label), 0),
  );
  const H = 310;
  const m = { l: 56, r: 16, t: 34, b: 56 };
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const y = (v: number) => m.t + (1 - v) * (H - m.t - m.b);
  const x = (i: number) => m.l + 10 + (sizes.length === 1 ? 0.5 : i / (sizes.length - 1)) * (W - m.l - m.r - 20);
  return (
    <Svg width={W} height={H} title="Fidelity of weights: |r| per set size" testId="plot-fidelityOfWeights">
      <Legend x={m.l} y={16} items={legend} />
      <YAxis x={m.l} x2={W - m.r} ticks={ticks} scale={y} label="|r|" />
      {sizes.map((s, i) => (
        <text key={s} x={x(i)} y={H - m.b + 16} textAnchor="middle" fill={INK}>
          {s}
        </text>
      ))}
      <text x={(m.l + W - m.r) / 2} y={H - 24} textAnchor="middle" fill={MUTED}>
        neurons knocked out per set
      </text>
      {result.pairs.map((p, pi) => {
        const colour = PALETTE[pi % PALETTE.length]!;
        const pts = p.summary.map((s) => ({ s, i: sizes.indexOf(s.size) })).filter((q) => q.i >= 0 && finite(q.s.absR));
        return (
          <g key={p.pairIndex}>
            <polyline
              points={pts.map((q) => `${x(q.i)},${y(q.s.absR)}`).join(" ")}
              fill="none"
              stroke={colour}
              strokeWidth={2}
            />
            {pts.map((q) => (
              <circle
                key={q.s.size}
                data-testid="fow-point"
                cx={x(q.i)}
                cy={y(q.s.absR)}
                r={3.5}
                fill={q.s.r <= 0 ? colour : "#ffffff"}
                stroke={colour}
              >
                <title>{`${p.upper}←${p.lower}, sets of ${q.s.size}: r = ${fmt(q.s.r)}`}</title>
              </circle>
            ))}
          </g>
        );
      })}
      <text x={m.l} y={H - 8} fill={MUTED} fontSize={10}>
        filled: r ≤ 0 (the expected sign) · hollow: r &gt; 0
      </text>
    </Svg>
  );
}

// ---------------------------------------------------------------- group masking

export function maskingCsv(r: GroupMaskingResult, names: string[]): Csv {
  return {
    header: ["image", "before", "after", "random_after"],
    rows: [
      ...r.before.map((b, i) => [names[i] ?? `image ${i + 1}`, b, r.after[i], r.randomAfter[i]]),
      ["mean", r.means.before, r.means.after, r.means.randomAfter],
    ],
  };
}

const MASK_SERIES = [
  { key: "before", label: "before", colour: "#4b5563" },
  { key: "after", label: "groups masked", colour: "#dc2626" },
  { key: "randomAfter", label: "as many random", colour: "#2563eb" },
] as const;

/** Class probability per image: before, with the groups masked, with as many random neurons masked. */
export function MaskingPlot({ result, names }: { result: GroupMaskingResult; names: string[] }) {
  const n = result.before.length;
  const labels = [...names.slice(0, n), "mean"];
  const values = [
    ...result.before.map((_, i) => ({
      before: result.before[i]!,
      after: result.after[i]!,
      randomAfter: result.randomAfter[i]!,
    })),
    result.means,
  ];
  const groupW = 3 * 12 + 14;
  const W = Math.max(360, 70 + labels.length * groupW);
  const H = 240;
  const m = { l: 52, r: 12, t: 34, b: 40 };
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const y = (v: number) => m.t + (1 - v) * (H - m.t - m.b);
  return (
    <Svg width={W} height={H} title="Group masking: class probability per image" testId="plot-masking">
      <Legend x={m.l} y={16} items={MASK_SERIES.map((s) => ({ label: s.label, colour: s.colour }))} />
      <YAxis x={m.l} x2={W - m.r} ticks={ticks} scale={y} label="class probability" />
      {values.map((v, i) => {
        const gx = m.l + 8 + i * groupW;
        return (
          <g key={i}>
            {MASK_SERIES.map((s, si) => (
              <rect
                key={s.key}
                data-testid="mask-bar"
                x={gx + si * 12}
                y={y(v[s.key])}
                width={10}
                height={Math.max(0.5, y(0) - y(v[s.key]))}
                fill={s.colour}
              >
                <title>{`${labels[i]}: ${s.label} ${fmt(v[s.key])}`}</title>
              </rect>
            ))}
            <text
              x={gx + 17}
              y={H - m.b + 14}
              textAnchor="middle"
              fill={i === n ? INK : MUTED}
              fontSize={9}
              fontWeight={i === n ? 600 : 400}
            >
              {labels[i]!.length > 9 ? `${labels[i]!.slice(0, 8)}…` : labels[i]}
            </text>
          </g>
        );
      })}
    </Svg>
  );
}

// ---------------------------------------------------------------- faithfulness

const MODE_NAMES: Record<ThresholdMode, string> = { global: "global", perLayer: "per layer" };

export function faithfulnessCsv(r: FaithfulnessResult): Csv {
  return {
    header: [
      "mode",
      "threshold",
      "visible_groups",
      ...r.layers.map((l) => `neurons_${l}`),
      "mean_class_logit",
      "logit_retained",
      "accuracy",
      "random_draws",
      "random_mean",
      `random_p${Math.round(50 - r.interval * 50)}`,
      `random_p${Math.round(50 + r.interval * 50)}`,
      "random_at_least_circuit",
    ],
    rows: THRESHOLD_MODES.flatMap((mode) =>
      r.series[mode].map((p) => {
        const c = r.configs[p.config]!;
        return [
          mode,
          p.threshold,
          c.groups.length,
          ...c.neurons,
          c.logit,
          c.logitRetained,
          c.accuracy,
          c.random?.draws ?? 0,
          c.random?.mean ?? null,
          c.random?.low ?? null,
          c.random?.high ?? null,
          c.random?.atLeast ?? null,
        ];
      }),
    ),
  };
}

/** Runs of thresholds (ascending) that keep the same neurons per masked layer. */
export function faithfulnessSegments(
  result: FaithfulnessResult,
  mode: ThresholdMode,
): { from: number; to: number; neurons: number[] }[] {
  const out: { from: number; to: number; neurons: number[] }[] = [];
  for (const p of [...result.series[mode]].sort((a, b) => a.threshold - b.threshold)) {
    const neurons = result.configs[p.config]!.neurons;
    const last = out.at(-1);
    if (last && last.neurons.join(",") === neurons.join(",")) last.to = p.threshold;
    else out.push({ from: p.threshold, to: p.threshold, neurons });
  }
  return out;
}

/**
 * The faithfulness curve: logit retained (0 = the masked layers emptied, 1 = the full network) with
 * only the groups visible at each threshold kept, over the whole threshold range of one mode,
 * against random neurons of equal size per layer (mean, dashed, and the central band of the draws),
 * with the viewer's current threshold marked when given.
 */
export function FaithfulnessPlot({
  result,
  mode = "global",
  threshold,
}: {
  result: FaithfulnessResult;
  mode?: ThresholdMode;
  threshold?: number;
}) {
  const W = 560;
  const H = 280;
  const m = { l: 56, r: 16, t: 34, b: 40 };
  const pts = [...result.series[mode]]
    .sort((a, b) => a.threshold - b.threshold)
    .map((p) => ({ t: p.threshold, c: result.configs[p.config]! }))
    .filter((p) => finite(p.c.logitRetained));
  const withRandom = pts.filter((a) => a.c.random && finite(a.c.random.low) && finite(a.c.random.high));
  const values = [
    0,
    1,
    ...pts.map((p) => p.c.logitRetained!),
    ...withRandom.flatMap((p) => [p.c.random!.low, p.c.random!.high]),
  ];
  const ticks = niceTicks(Math.min(...values), Math.max(...values), 5);
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const y = (v: number) => m.t + (1 - (v - lo) / (hi - lo || 1)) * (H - m.t - m.b);
  const x = (t: number) => m.l + Math.min(1, Math.max(0, t)) * (W - m.l - m.r);
  const band = `central ${Math.round(result.interval * 100)}% of ${result.draws} random`;
  const marker = threshold != null ? (pts.filter((p) => p.t <= threshold + 1e-9).at(-1) ?? pts[0]) : undefined;
  const segments = faithfulnessSegments(result, mode);
  return (
    <Svg
      width={W}
      height={H}
      title={`Logit retained with only the circuit, by ${MODE_NAMES[mode]} threshold`}
      testId="plot-faithfulness"
    >
      <Legend
        x={m.l}
        y={16}
        items={[
          { label: "only the visible groups", colour: "#16a34a" },
          ...(withRandom.length ? [{ label: band, colour: "#bfdbfe" }] : []),
        ]}
        dashed={withRandom.length ? "random mean" : undefined}
      />
      <YAxis x={m.l} x2={W - m.r} ticks={ticks} scale={y} label="logit retained" />
      {niceTicks(0, 1, 5).map((t) => (
        <text key={t} x={x(t)} y={H - m.b + 14} textAnchor="middle" fill={INK}>
          {fmt(t)}
        </text>
      ))}
      <text x={(m.l + W - m.r) / 2} y={H - 8} textAnchor="middle" fill={MUTED}>
        {mode === "global"
          ? "weight threshold (fraction of the largest |W|)"
          : "weight threshold (fraction of each layer's largest |W|)"}
      </text>
      <line x1={m.l} x2={W - m.r} y1={y(1)} y2={y(1)} stroke={MUTED} strokeDasharray="1 3" />
      <text x={W - m.r - 2} y={y(1) - 3} textAnchor="end" fill={MUTED} fontSize={9}>
        full network
      </text>
      {withRandom.length > 0 && (
        <>
          <polygon
            data-testid="faith-random-band"
            points={[
              ...withRandom.map((a) => `${x(a.t)},${y(a.c.random!.high)}`),
              ...withRandom.map((a) => `${x(a.t)},${y(a.c.random!.low)}`).reverse(),
            ].join(" ")}
            fill="#2563eb"
            opacity={0.18}
          />
          <polyline
            data-testid="faith-random-mean"
            points={withRandom.map((a) => `${x(a.t)},${y(a.c.random!.mean)}`).join(" ")}
            fill="none"
            stroke="#2563eb"
            strokeDasharray="5 4"
          />
        </>
      )}
      <polyline
        points={pts.map((a) => `${x(a.t)},${y(a.c.logitRetained!)}`).join(" ")}
        fill="none"
        stroke="#16a34a"
        strokeWidth={2}
      />
      {pts.map((a) => (
        <circle
          key={a.t}
          data-testid="faith-point"
          data-threshold={a.t}
          data-value={a.c.logitRetained!}
          cx={x(a.t)}
          cy={y(a.c.logitRetained!)}
          r={2.5}
          fill="#16a34a"
        >
          <title>{`threshold ${a.t}: logit retained ${fmt(a.c.logitRetained!)} with ${a.c.groups.length} groups (${a.c.neurons.join(" / ")} neurons)${a.c.random ? `; random ${fmt(a.c.random.mean)} [${fmt(a.c.random.low)}, ${fmt(a.c.random.high)}]` : ""}`}</title>
        </circle>
      ))}
      {segments.map((seg, i) => (
        <g key={seg.from} data-testid="faith-segment" data-neurons={seg.neurons.join(",")}>
          {i > 0 && <line x1={x(seg.from)} x2={x(seg.from)} y1={H - m.b} y2={H - m.b - 8} stroke={MUTED} />}
          <text x={x(seg.from) + 3} y={H - m.b - 4} fill={MUTED} fontSize={9}>
            {`${i === 0 ? "neurons kept " : ""}${seg.neurons.join("/")}`}
          </text>
        </g>
      ))}
      {marker && threshold != null && (
        <g data-testid="faith-marker" data-threshold={threshold} data-value={marker.c.logitRetained!}>
          <line x1={x(threshold)} x2={x(threshold)} y1={m.t} y2={H - m.b} stroke={INK} strokeDasharray="3 2" />
          <circle
            cx={x(threshold)}
            cy={y(marker.c.logitRetained!)}
            r={4.5}
            fill="none"
            stroke={INK}
            strokeWidth={1.5}
          />
          <text
            x={x(threshold) + (threshold > 0.7 ? -4 : 4)}
            y={m.t + 10}
            textAnchor={threshold > 0.7 ? "end" : "start"}
            fill={INK}
            fontSize={10}
          >
            {`now ${threshold.toFixed(2)}: ${fmt(marker.c.logitRetained!)}`}
          </text>
        </g>
      )}
    </Svg>
  );
}
