/** Plain-text summaries of evaluation results, for the command line and the docs. */
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
