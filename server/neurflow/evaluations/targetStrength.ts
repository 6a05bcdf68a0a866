/**
 * "The strongest targets of a layer": a target's strength is the largest share of importance any
 * of its parents (the targets one layer up whose core neuron it is) gives it — importance of the
 * target / Σ of that parent's importance. The class logit's single target is the strongest of the
 * top pair. Ties go to the lower channel.
 */
import type { Circuit } from "../circuitFormat";

export function targetStrengths(circuit: Circuit, pairIndex: number): Map<number, number> {
  const layer = circuit.layers[pairIndex];
  if (!layer) throw new Error(`the circuit has no layer pair ${pairIndex} (it has ${circuit.layers.length})`);
  const strength = new Map(layer.targets.map((t) => [t.neuron, 0]));
  if (pairIndex === 0) return new Map(layer.targets.map((t) => [t.neuron, 1]));
  for (const parent of circuit.layers[pairIndex - 1]!.targets) {
    const total = parent.importance.reduce((a, b) => a + b, 0) || 1;
    for (const c of parent.coreNeurons) {
      if (strength.has(c)) strength.set(c, Math.max(strength.get(c)!, parent.importance[c]! / total));
    }
  }
  return strength;
}

/** The `count` strongest targets of a pair, strongest first. */
export function strongestTargets(circuit: Circuit, pairIndex: number, count: number): number[] {
  const s = targetStrengths(circuit, pairIndex);
  return [...s.keys()].sort((a, b) => s.get(b)! - s.get(a)! || a - b).slice(0, count);
}
