/**
 * The circuit at a smaller τ, derived exactly from a stored one: a target's core neurons are the τ
 * lower channels of largest importance, and a target's importance does not depend on τ, so the
 * circuit at τ' ≤ τ is found by walking down from the class logit keeping the top τ' of each
 * reached target's stored importance. (Semantic groups do not change which neurons are core.)
 */
import type { Circuit } from "../circuitFormat";
import { topIndices } from "../coreNeurons";

export interface LayerCoreNeurons {
  /** Index of the circuit layer pair whose lower layer this is. */
  pairIndex: number;
  layer: string;
  /** Targets of the pair (upper-layer neurons reached at this τ), ascending. */
  targets: number[];
  /** Core neurons of the lower layer at this τ, ascending. */
  neurons: number[];
  /** Per target, its τ' core neurons in descending importance. */
  coreOf: Map<number, number[]>;
}

export function coreNeuronsAtTau(circuit: Circuit, tau = circuit.params.tau): LayerCoreNeurons[] {
  if (!Number.isInteger(tau) || tau < 1) throw new Error(`τ must be a positive integer, got ${tau}`);
  if (tau > circuit.params.tau) {
    throw new Error(
      `τ = ${tau} is larger than the circuit's τ = ${circuit.params.tau}: compute a circuit with τ ≥ ${tau} first`,
    );
  }
  const out: LayerCoreNeurons[] = [];
  let targets = [circuit.class.index];
  circuit.layers.forEach((layer, i) => {
    const byNeuron = new Map(layer.targets.map((t) => [t.neuron, t]));
    const coreOf = new Map<number, number[]>();
    for (const n of targets) {
      const t = byNeuron.get(n);
      if (!t)
        throw new Error(
          `neuron ${n} of layer "${layer.upper}" is reached at τ = ${tau} but is not a target of the circuit`,
        );
      coreOf.set(n, topIndices(t.importance, tau));
    }
    const neurons = [...new Set([...coreOf.values()].flat())].sort((a, b) => a - b);
    out.push({ pairIndex: i, layer: layer.lower, targets, neurons, coreOf });
    targets = neurons;
  });
  return out;
}
