/**
 * Which neurons of a circuit the faithfulness curve keeps, layer by layer (no TensorFlow.js: the
 * platform builds the curve's subsets with these, the engine masks with them).
 */
import type { Circuit } from "../circuitFormat";

/**
 * The layers a circuit's neurons are kept in: every layer of the circuit below the logit — the upper
 * layer of every layer pair but the first (the first pair's upper layer is the logit itself), and
 * the lowest pair's lower layer (its core neurons).
 */
export function faithfulnessLayers(circuit: Circuit): string[] {
  if (circuit.layers.length < 2) return [];
  return [...circuit.layers.slice(1).map((l) => l.upper), circuit.layers[circuit.layers.length - 1]!.lower];
}

/**
 * The channels of the lowest circuit layer kept with a set of its upper layer's targets: their core
 * neurons (those layers' channels are in no neuron group; they belong to the circuit through the
 * targets that chose them).
 */
export function lowestCoreNeurons(circuit: Circuit, targets: ReadonlySet<number>): number[] {
  const last = circuit.layers[circuit.layers.length - 1];
  if (!last) return [];
  return [...new Set(last.targets.filter((t) => targets.has(t.neuron)).flatMap((t) => t.coreNeurons))].sort(
    (a, b) => a - b,
  );
}
