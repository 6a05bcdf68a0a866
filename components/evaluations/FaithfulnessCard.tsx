"use client";
/**
 * A stored faithfulness curve on the evaluations page: the plot of one threshold mode (global or
 * per layer; both are stored) with its exports, and a note for results of the first version, which
 * held accuracy only.
 */
import { useState } from "react";
import { THRESHOLD_MODES, type ThresholdMode } from "~/lib/circuits/visibility";
import { isFaithfulnessCurve } from "~/lib/evaluations/faithfulness";
import { PlotCard } from "./PlotCard";
import { faithfulnessCsv, FaithfulnessPlot } from "./plots";

const fmt = (v: number) => v.toFixed(2);

export function FaithfulnessCard({ result, name }: { result: unknown; name: string }) {
  const [mode, setMode] = useState<ThresholdMode>("global");
  if (!isFaithfulnessCurve(result))
    return (
      <p className="text-sm text-zinc-500" data-testid="faithfulness-outdated">
        This result was computed by an earlier version, which measured the class accuracy only (it saturates: the
        network with the masked layers emptied still scores 1.00 on the demo). Run it again for the curve.
      </p>
    );
  const r = result;
  return (
    <div className="flex flex-col gap-2">
      <div className="flex items-center gap-3 text-xs" role="radiogroup" aria-label="Threshold mode">
        {THRESHOLD_MODES.map((m) => (
          <label key={m} className="flex items-center gap-1">
            <input
              type="radio"
              name={`faith-mode-${name}`}
              checked={mode === m}
              onChange={() => setMode(m)}
              data-testid={`faith-mode-${m}`}
            />
            {m === "global" ? "global threshold" : "per-layer threshold"}
          </label>
        ))}
      </div>
      <PlotCard
        name={name}
        csv={() => faithfulnessCsv(r)}
        testId="plotcard-faithfulness"
        caption={`${r.configs.length} distinct sets of visible groups · ${r.images} images · masked layers ${r.layers.join(", ")} · class logit ${fmt(r.full.logit)} (full network), ${fmt(r.empty.logit)} (masked layers emptied) · accuracy ${fmt(r.full.accuracy)} full, ${fmt(r.empty.accuracy)} emptied · ${r.draws} random draws per size`}
      >
        <FaithfulnessPlot result={r} mode={mode} />
      </PlotCard>
    </div>
  );
}
