/**
 * Metric M (paper §5.1): how strongly an input shows a neuron group's concept. For a group G with
 * member neurons v (each a (neuron, semantic group) pair of one layer) and their reference
 * activations r_v — the mean activation of v over its concept patches in that semantic group —
 *
 *   M(x, G) = exp( mean_v log( max(a_v(x), 0) / (|r_v| + ε) + ε ) ),   ε = 1e-6,
 *
 * the geometric mean of activation / reference over the members (the authors' `log_barrier`). A
 * neuron that is a member through several semantic groups takes the mean of their references and
 * counts once per membership, as the authors' `debug_img` does. An image's score is the maximum
 * over its multi-granularity crops.
 */
import type { Circuit, NeuronGroup } from "./circuitFormat";

export const METRIC_M_EPSILON = 1e-6;

export interface GroupReference {
  /** Layer index in the circuit (its `upper` is the layer of the group's neurons). */
  layerIndex: number;
  groupId: number;
  /** One entry per membership: the neuron and its reference activation. */
  neurons: number[];
  references: number[];
}

/** Reference activations of every group of one circuit layer. */
export function groupReferences(circuit: Circuit, layerIndex: number): GroupReference[] {
  const layer = circuit.layers[layerIndex];
  if (!layer) throw new Error(`the circuit has no layer ${layerIndex} (it has ${circuit.layers.length})`);
  const byNeuron = new Map(layer.targets.map((t) => [t.neuron, t]));
  const refOf = (neuron: number, sg: number): number => {
    const t = byNeuron.get(neuron);
    if (!t) throw new Error(`neuron ${neuron} of a group is not a target of layer "${layer.upper}"`);
    let sum = 0;
    let n = 0;
    t.semanticGroups.forEach((g, i) => {
      if (g === sg) {
        sum += t.topActivations[i]!;
        n++;
      }
    });
    if (n === 0) throw new Error(`neuron ${neuron} of layer "${layer.upper}" has no semantic group ${sg}`);
    return sum / n;
  };
  return layer.neuronGroups.map((g: NeuronGroup) => {
    const perNeuron = new Map<number, number[]>();
    for (const m of g.members)
      perNeuron.set(m.neuron, [...(perNeuron.get(m.neuron) ?? []), refOf(m.neuron, m.semanticGroup)]);
    const mean = new Map([...perNeuron].map(([n, rs]) => [n, rs.reduce((a, b) => a + b, 0) / rs.length]));
    return {
      layerIndex,
      groupId: g.id,
      neurons: g.members.map((m) => m.neuron),
      references: g.members.map((m) => mean.get(m.neuron)!),
    };
  });
}

/** M of one activation row (the layer's spatial means for one input). */
export function metricM(activations: ArrayLike<number>, ref: Pick<GroupReference, "neurons" | "references">): number {
  const n = ref.neurons.length;
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const a = activations[ref.neurons[i]!]!;
    sum += Math.log(Math.max(a, 0) / (Math.abs(ref.references[i]!) + METRIC_M_EPSILON) + METRIC_M_EPSILON);
  }
  return Math.exp(sum / n);
}

/**
 * M of every row of a [rows × channels] activation table, and per input the maximum over its rows
 * (`inputOf[row]` = the input a crop comes from, 0..inputs−1).
 */
export function metricMOfCrops(
  table: Float32Array,
  channels: number,
  ref: Pick<GroupReference, "neurons" | "references">,
  inputOf: ArrayLike<number>,
  inputs: number,
): { perInput: Float64Array; perRow: Float64Array } {
  const rows = table.length / channels;
  if (inputOf.length !== rows) throw new Error(`${rows} activation rows but ${inputOf.length} crop owners`);
  const perRow = new Float64Array(rows);
  const perInput = new Float64Array(inputs).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    perRow[r] = metricM(table.subarray(r * channels, (r + 1) * channels), ref);
    const i = inputOf[r]!;
    if (perRow[r]! > perInput[i]!) perInput[i] = perRow[r]!;
  }
  return { perInput, perRow };
}
