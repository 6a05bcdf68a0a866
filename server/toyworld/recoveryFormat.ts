/** The recovery checks as a plain-text report: the numbers, then one verdict per claim. */
import type { GroupComposition } from "./conceptParts";
import type { MaskingSide, RecoveryReport } from "./recovery";

const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "—");

function groupTable(groups: readonly GroupComposition[], minPatches: number): string[] {
  const lines = ["  layer     group  neurons  patches (64/32/16 px)   cue  object  decoration  edge up"];
  for (const g of groups) {
    const sizes = ["64", "32", "16"].map((k) => g.bySize[k] ?? 0).join("/");
    lines.push(
      `  ${g.layer.padEnd(9)} ${String(g.groupId).padStart(5)}  ${String(g.neurons.length).padStart(7)}  ${String(g.patches).padStart(7)} (${sizes})`.padEnd(
        48,
      ) +
        `${pct(g.cue).padStart(4)}  ${pct(g.object).padStart(6)}  ${pct(g.decoration).padStart(10)}  ${(Number.isFinite(g.parentWeight) ? g.parentWeight.toFixed(3) : "–").padStart(7)}${g.patches < minPatches ? "  (too few patches to judge)" : ""}`,
    );
  }
  return lines;
}

function maskingLine(label: string, s: MaskingSide): string {
  return `  ${label.padEnd(22)} ${String(s.images).padStart(4)} images  P ${f3(s.before)} → ${f3(s.after)} (drop ${f3(s.drop)}); random neurons → ${f3(s.randomAfter)} (drop ${f3(s.randomDrop)}); logit drop ${f3(s.logitDrop)}, random ${f3(s.randomLogitDrop)}`;
}

export function formatRecovery(r: RecoveryReport): string {
  const L: string[] = [];
  const T = r.thresholds;
  L.push(`model ${r.model}${r.control ? `, control ${r.control.model}` : ""}; class ${r.cue.class}, cue ${r.cue.part}`);
  L.push(
    `world: cue rate ${r.world.cueRate} in ${r.cue.class}, ${r.world.cueRateElsewhere} elsewhere; far objects elsewhere ${r.world.farRateElsewhere}`,
  );
  L.push(`${r.perClass} scenes per set, seed ${r.seed}, τ ${r.tau}, layers ${r.layers.join(" → ")}`);
  L.push("");
  L.push(
    `circuit: ${r.circuit.images} images classified ${r.cue.class} (${r.circuit.cueImages} with ${r.cue.part}, ${r.circuit.farImages} far bees) in ${r.circuit.seconds.toFixed(0)} s; groups ${r.circuit.groupsPerLayer.map((g) => `${g.layer} ${g.groups}`).join(", ")}`,
  );
  L.push(
    `concept patches showing each part set (a patch shows it when it covers ≥ ${pct(T.showsPartShare)} of the patch):`,
  );
  L.push(...groupTable(r.groups, T.minPatches));
  if (r.cueGroup)
    L.push(
      `  most cue-like group: ${r.cueGroup.layer} group ${r.cueGroup.groupId}; sensitivity: ${r.cueGroup.sensitivity.map((s) => `at ${pct(s.share)} ${pct(s.cue)}`).join(", ")}`,
    );
  if (r.objectGroup) L.push(`  most object-like other group: ${r.objectGroup.layer} group ${r.objectGroup.groupId}`);
  L.push("");
  if (r.masking) {
    const m = r.masking;
    L.push(
      `masking ${m.layer} group ${m.groupId} (${m.neurons.length} of ${m.layerWidth} neurons: ${m.neurons.join(", ")}; random: ${m.draws} draws of as many):`,
    );
    L.push(maskingLine("cue present", m.present));
    L.push(maskingLine("cue absent (same bees)", m.absent));
    L.push(maskingLine("far bees, present", m.farPresent));
    L.push(maskingLine("far bees, absent", m.farAbsent));
    L.push(
      `  logit drop with / without the cue: ${m.present.logitDrop.toFixed(2)} / ${m.absent.logitDrop.toFixed(2)} (${(m.present.logitDrop / m.absent.logitDrop).toFixed(1)}×; random ${m.present.randomLogitDrop.toFixed(2)}); P drop with − without: ${f3(m.gap)}`,
    );
  }
  if (r.metricM) {
    const mm = r.metricM;
    L.push(
      `metric M of ${mm.layer} group ${mm.groupId}: mean ${f3(mm.present)} with the cue, ${f3(mm.absent)} without; AUROC ${f3(mm.auroc)} (far bees ${f3(mm.farAuroc)})`,
    );
  }
  if (r.otherCueGroups.length) {
    L.push("the other groups dominated by the cue, measured alike (not judged):");
    L.push(
      "  layer     group  neurons   cue  object   P drop with / without the cue   logit drop with / without (random)   M AUROC",
    );
    for (const g of r.otherCueGroups) {
      L.push(
        `  ${g.layer.padEnd(9)} ${String(g.groupId).padStart(5)}  ${String(g.neurons).padStart(7)}  ${pct(g.cue).padStart(4)}  ${pct(g.object).padStart(6)}   ${f3(g.present.drop).padStart(13)} / ${f3(g.absent.drop).padEnd(16)}  ${f3(g.present.logitDrop).padStart(10)} / ${f3(g.absent.logitDrop)} (${f3(g.present.randomLogitDrop)})`.padEnd(
          112,
        ) + f3(g.auroc),
      );
    }
  }
  if (r.control) {
    L.push("");
    L.push(`control ${r.control.model}: circuit in ${r.control.seconds.toFixed(0)} s on the same images`);
    L.push(...groupTable(r.control.groups, T.minPatches));
  }
  L.push("");
  L.push(
    `core neurons of ${r.labels.layer} (the ${r.cue.class} logit's), labelled leave-one-part-out on ${r.labels.scenes} scenes (mean activation drop when the part is removed):`,
  );
  const parts = [...new Set(r.labels.neurons.flatMap((n) => Object.keys(n.drops)))];
  L.push(`  neuron  activation  label     ${parts.map((p) => p.padStart(8)).join(" ")}`);
  for (const n of r.labels.neurons) {
    L.push(
      `  ${String(n.neuron).padStart(6)}  ${f3(n.activation).padStart(10)}  ${(n.label ?? "none").padEnd(8)}  ${parts.map((p) => f3(n.drops[p as keyof typeof n.drops]?.drop ?? NaN).padStart(8)).join(" ")}`,
    );
  }
  L.push("");
  for (const fc of r.fidelity) {
    L.push(
      `fidelity of ${fc.class}'s core neurons (τ ${fc.tau}, ${fc.images} fresh ${fc.class} scenes), masking from the classifier down to each layer:`,
    );
    L.push(`  layer       core neurons  mask core  random    retain core  random    zeroed layer predicts`);
    const judgedAt = fc.judged.layer;
    const counts = fc.result.coreCounts.find((x) => x.tau === fc.tau)!.counts;
    fc.result.layers.forEach((layer, j) => {
      const c = (mode: string) =>
        fc.result.curves.find((x) => x.mode === mode && x.scope === "multi" && x.tau === fc.tau)!;
      const e = fc.emptyPrediction[j]!;
      L.push(
        `  ${layer.padEnd(10)}  ${`${counts[j]}/${fc.widths[j]}`.padStart(12)}  ${f3(c("mask").core[j]!).padStart(9)}  ${f3(c("mask").baseline[j]!).padStart(6)}    ${f3(c("retain").core[j]!).padStart(11)}  ${f3(c("retain").baseline[j]!).padStart(6)}    ${e.class} (${pct(e.share)})${layer === judgedAt ? "   ← judged" : ""}`,
      );
    });
    L.push(`  accuracy without masking ${f3(fc.result.unmaskedAccuracy)}`);
    L.push(`  ${judgedAt} at τ' ≤ τ (derived from the circuit; shown, not judged):`);
    L.push(`      τ  core neurons  mask core  random    retain core  random`);
    for (const t of fc.overTau) {
      L.push(
        `    ${String(t.tau).padStart(3)}  ${`${t.coreNeurons}/${fc.judged.width}`.padStart(12)}  ${f3(t.maskCore).padStart(9)}  ${f3(t.maskRandom).padStart(6)}    ${f3(t.retainCore).padStart(11)}  ${f3(t.retainRandom).padStart(6)}`,
      );
    }
  }
  L.push("");
  for (const c of r.claims) L.push(`${!c.applicable ? "N/A " : c.passed ? "PASS" : "FAIL"}  ${c.name}: ${c.detail}`);
  L.push(`${r.passed ? "PASS" : "FAIL"}  recovery checks (${r.seconds.toFixed(0)} s)`);
  return L.join("\n");
}
