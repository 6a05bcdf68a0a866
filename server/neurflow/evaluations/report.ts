/** Plain-text summaries of evaluation results, for the command line and the docs. */
import type { ClassDependenceResult } from "./classDependence";
import type { FidelityOfNeuronsResult } from "./fidelityOfNeurons";
import type { FidelityOfWeightsResult } from "./fidelityOfWeights";
import type { OptimalityResult } from "./optimality";

const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);

export function formatOptimality(r: OptimalityResult): string {
  const lines = [
    `optimality: ${r.params.targets} strongest targets per layer, ${r.params.randomSets} random sets, top-${r.params.k} retention (${r.seconds.toFixed(1)} s)`,
    "layer pair              τ   random − core (99% CI)        core better   ties   random better",
  ];
  for (const c of r.cells) {
    const d = c.difference;
    lines.push(
      `${`${c.upper}←${c.lower}`.padEnd(22)} ${String(c.tau).padStart(3)}   ${f3(d.mean).padStart(6)} [${f3(d.low)}, ${f3(d.high)}]`.padEnd(
        58,
      ) +
        `${String(c.coreBeatsRandom).padStart(5)} (${((100 * c.coreBeatsRandom) / c.cases).toFixed(0)}%)  ${String(c.ties).padStart(4)}   ${String(c.randomBeatsCore).padStart(5)}`,
    );
  }
  for (const s of r.skipped) lines.push(`skipped pair ${s.pairIndex}, τ ${s.tau}: ${s.reason}`);
  return lines.join("\n");
}

export function formatFidelityOfNeurons(r: FidelityOfNeuronsResult): string {
  const lines = [
    `fidelity of neurons on ${r.params.images} images (accuracy unmasked ${f2(r.unmaskedAccuracy)}), baseline ${r.params.baseline}` +
      `${r.params.baseline === "random" ? ` (${r.params.draws} draws)` : ""} (${r.seconds.toFixed(1)} s)`,
    `layers: ${r.layers.join(", ")}`,
  ];
  for (const c of r.coreCounts) lines.push(`core neurons at τ ${c.tau}: ${c.counts.join(", ")}`);
  for (const c of r.curves) {
    lines.push(
      `τ ${String(c.tau).padStart(2)} ${c.mode.padEnd(6)} ${c.scope.padEnd(6)}  core ${c.core.map(f2).join(" ")}   ${r.params.baseline} ${c.baseline.map(f2).join(" ")}`,
    );
  }
  return lines.join("\n");
}

export function formatFidelityOfWeights(r: FidelityOfWeightsResult): string {
  const lines = [
    `fidelity of weights: ${r.params.targets} target(s) per layer, ${r.params.randomSets} random sets per size, top-${r.params.k} retention (${r.seconds.toFixed(1)} s)`,
    `layer pair              ${r.params.setSizes.map((s) => `|r| size ${s}`.padStart(11)).join(" ")}`,
  ];
  for (const p of r.pairs) {
    const cells = r.params.setSizes.map((s) => {
      const x = p.summary.find((y) => y.size === s);
      return (x ? f2(x.absR) : "—").padStart(11);
    });
    lines.push(`${`${p.upper}←${p.lower}`.padEnd(22)}  ${cells.join(" ")}`);
  }
  for (const s of r.skipped) lines.push(`skipped pair ${s.pairIndex}, size ${s.size}: ${s.reason}`);
  return lines.join("\n");
}

export function formatClassDependence(r: ClassDependenceResult, classes?: readonly string[]): string {
  const p = r.params;
  const pct = Math.round(p.level * 100);
  const assigned = r.falsePositives.filter((f) => f.assigned).length;
  const lines = [
    `class dependence of "${r.class.name}": ${p.classImages} class images (accuracy ${f2(r.unmasked.classAccuracy)}), ` +
      `${p.otherImages} other images (${(100 * r.unmasked.otherAssigned).toFixed(1)}% assigned to the class); ` +
      `${p.draws} random sets per layer and size, ${pct}% percentile intervals (${r.seconds.toFixed(1)} s)`,
    `false positives: ${r.falsePositives.length} (${assigned} assigned to the class, ${r.falsePositives.length - assigned} nearest misses)` +
      (r.falsePositives.length
        ? `: ${r.falsePositives
            .map(
              (f) =>
                `${f.name ?? `#${f.image}`}${f.trueClass != null && classes ? ` (${classes[f.trueClass]})` : ""}${f.assigned ? "" : "~"}`,
            )
            .join(", ")}`
        : ""),
    "rank  layer      group  neurons  class logit drop  random mean [interval]   p      flips (rnd)   FP drop  random [interval]      FP flips  M class  M FP   explains  bias",
  ];
  for (const g of r.groups) {
    const c = g.classImages;
    const f = g.falsePositives;
    lines.push(
      [
        String(g.rank).padStart(4),
        g.layer.padEnd(10),
        `g${g.groupId}`.padStart(5),
        `${g.neurons.length}/${g.layerWidth}`.padStart(8),
        f2(c.logitDrop).padStart(17),
        `${f2(c.random.mean)} [${f2(c.random.low)}, ${f2(c.random.high)}]`.padStart(24),
        c.pValue.toFixed(3).padStart(6),
        `${f2(c.flips)} (${f2(c.random.flipsMean)})`.padStart(12),
        (f ? f2(f.logitDrop) : "—").padStart(8),
        (f ? `${f2(f.random.mean)} [${f2(f.random.low)}, ${f2(f.random.high)}]` : "—").padStart(22),
        (f ? f2(f.flips) : "—").padStart(9),
        f2(g.metricM.classImages).padStart(8),
        (g.metricM.falsePositives == null ? "—" : f2(g.metricM.falsePositives)).padStart(6),
        `${g.explains.length}/${r.falsePositives.length}`.padStart(9),
        g.biasCandidate ? "  BIAS CANDIDATE" : "",
      ].join(" "),
    );
  }
  const flagged = r.groups.filter((g) => g.biasCandidate);
  lines.push(
    flagged.length
      ? `bias candidates: ${flagged
          .map(
            (g) =>
              `${g.layer} g${g.groupId} (explains ${g.explains.length} false positives, flips ${g.flipsFalsePositives.length}; concept patches ${g.conceptPatches
                .slice(0, 4)
                .map((c) => `${c.image}@${c.box.slice(1).join(",")}`)
                .join(" ")})`,
          )
          .join("; ")}`
      : "bias candidates: none",
  );
  return lines.join("\n");
}
