/**
 * Fidelity of core concept neurons (paper §4.2, Figure 5; the authors' exps/fidelity_of_neuron):
 * the class accuracy on the class's images when the core neurons are masked (zeroed) or retained
 * (everything else zeroed), against as many neurons chosen by a baseline:
 *   - scope "single": at one layer only;
 *   - scope "multi": at every layer from the classifier down to that layer at once;
 *   - baseline "random": uniformly random channels of the same layer (several draws: mean ± std);
 *   - baseline "neuronmct": the channels with the largest |IG| straight to the class logit over
 *     the images (NeuronMCT's ranking), as many as the core neurons.
 * Core neurons at τ' ≤ the circuit's τ come from coreNeuronsAtTau (exact).
 */
import { throwIfAborted as checkAbort } from "../abort";
import { channelImportance, topIndices } from "../coreNeurons";
import type { Circuit } from "../circuitFormat";
import { accuracyOf, layerWidth, maskedLogits, type LayerMask, type MaskMode } from "../masking";
import type { ClassifierModel } from "../model/loadModel";
import { patchGrid } from "../patches";
import { quadratureRule } from "../quadrature";
import { attributeTarget } from "../targetAttribution";
import { tf } from "../tf";
import { coreNeuronsAtTau } from "./coreNeuronsAtTau";
import type { EvaluationProgress } from "./progress";
import { sampleWithoutReplacement, seededRandom } from "./sampling";
import { mean, sampleStd } from "./statistics";

export type FidelityScope = "single" | "multi";
export type FidelityBaseline = "random" | "neuronmct";

export interface FidelityOfNeuronsOptions {
  taus?: number[];
  modes?: MaskMode[];
  scopes?: FidelityScope[];
  baseline?: FidelityBaseline;
  /** Random draws per point (baseline "random"). */
  draws?: number;
  seed?: number;
  batchSize?: number;
  onProgress?: (p: EvaluationProgress) => void;
  signal?: AbortSignal;
}

export const FIDELITY_OF_NEURONS_DEFAULTS = {
  taus: [4, 8, 16],
  modes: ["mask", "retain"],
  scopes: ["single", "multi"],
  baseline: "random",
  draws: 5,
  seed: 0,
} as const;

export interface FidelityCurve {
  tau: number;
  mode: MaskMode;
  scope: FidelityScope;
  /** Accuracy with the core neurons masked/retained, one per layer (top-down). */
  core: number[];
  /** Baseline accuracy per layer: mean over draws, and std (0 for a deterministic baseline). */
  baseline: number[];
  baselineStd: number[];
}

export interface FidelityOfNeuronsResult {
  kind: "fidelityOfNeurons";
  params: {
    taus: number[];
    modes: MaskMode[];
    scopes: FidelityScope[];
    baseline: FidelityBaseline;
    draws: number;
    seed: number;
    images: number;
  };
  /** Lower layers of the circuit, top-down: the x axis. */
  layers: string[];
  /** Core neurons per layer at each τ. */
  coreCounts: { tau: number; counts: number[] }[];
  /** Accuracy with nothing masked. */
  unmaskedAccuracy: number;
  curves: FidelityCurve[];
  seconds: number;
}

/** Channels of `layer` ranked by mean |IG| of the class logit over the images (whole images). */
export async function neuronMctRanking(
  model: ClassifierModel,
  images: tf.Tensor4D,
  classIndex: number,
  layer: string,
  steps = 16,
): Promise<number[]> {
  const n = images.shape[0];
  const S = images.shape[1];
  const patches = patchGrid(n, S, [1], 1);
  const logits = tf.tidy(() =>
    model.graph.run({ [model.graph.inputName]: images }, [model.logitsTensor])[0]!.slice([0, classIndex], [-1, 1]),
  );
  const fx = Array.from((await logits.data()) as Float32Array);
  logits.dispose();
  const res = await attributeTarget(
    model.graph,
    images,
    patches,
    {
      lowerTensor: model.layerTensor(layer),
      upperTensor: model.logitsTensor,
      target: classIndex,
      topPatches: patches.map((_, i) => i),
      topActivations: fx,
    },
    { rules: [quadratureRule("gausslegendre", steps)], tolerance: 1 },
  );
  const importance = channelImportance(res.perPatch, n, res.channels, "absMean");
  return topIndices(importance, res.channels);
}

export async function fidelityOfNeurons(
  circuit: Circuit,
  model: ClassifierModel,
  images: tf.Tensor4D,
  classIndex: number,
  options: FidelityOfNeuronsOptions = {},
): Promise<FidelityOfNeuronsResult> {
  const started = performance.now();
  const taus = options.taus ?? [...FIDELITY_OF_NEURONS_DEFAULTS.taus];
  const modes = options.modes ?? [...FIDELITY_OF_NEURONS_DEFAULTS.modes];
  const scopes = options.scopes ?? [...FIDELITY_OF_NEURONS_DEFAULTS.scopes];
  const baseline = options.baseline ?? FIDELITY_OF_NEURONS_DEFAULTS.baseline;
  const draws = baseline === "random" ? (options.draws ?? FIDELITY_OF_NEURONS_DEFAULTS.draws) : 1;
  const seed = options.seed ?? FIDELITY_OF_NEURONS_DEFAULTS.seed;
  if (!(draws >= 1)) throw new Error("draws must be at least 1");
  const perTau = taus.map((tau) => ({ tau, layers: coreNeuronsAtTau(circuit, tau) }));
  const layers = circuit.layers.map((l) => l.lower);
  const widths = new Map(layers.map((l) => [l, layerWidth(model, images, l)]));
  const mct = new Map<string, number[]>();
  const total =
    taus.length * modes.length * scopes.length * layers.length * (1 + draws) +
    (baseline === "neuronmct" ? layers.length : 0) +
    1;
  let done = 0;
  const step = (message: string) => options.onProgress?.({ done: ++done, total, message });
  if (baseline === "neuronmct") {
    for (const l of layers) {
      checkAbort(options.signal);
      mct.set(l, await neuronMctRanking(model, images, classIndex, l));
      step(`NeuronMCT ranking of ${l}`);
    }
  }
  const accuracy = async (masks: LayerMask[]) =>
    accuracyOf(await maskedLogits(model, images, masks, options.batchSize), classIndex);
  const unmaskedAccuracy = await accuracy([]);
  step("accuracy without masking");
  const curves: FidelityCurve[] = [];
  for (const { tau, layers: cores } of perTau) {
    for (const mode of modes) {
      for (const scope of scopes) {
        const curve: FidelityCurve = { tau, mode, scope, core: [], baseline: [], baselineStd: [] };
        for (let j = 0; j < layers.length; j++) {
          checkAbort(options.signal);
          const involved = scope === "single" ? [j] : Array.from({ length: j + 1 }, (_, i) => i);
          curve.core.push(
            await accuracy(involved.map((i) => ({ layer: layers[i]!, channels: cores[i]!.neurons, mode }))),
          );
          step(`τ ${tau}, ${mode} ${scope}: ${layers[j]} core`);
          const values: number[] = [];
          for (let d = 0; d < draws; d++) {
            const random = seededRandom(
              (seed * 1000003 +
                tau * 7919 +
                j * 104729 +
                d * 31 +
                (mode === "mask" ? 0 : 17) +
                (scope === "single" ? 0 : 5)) >>>
                0,
            );
            const masks = involved.map((i) => {
              const l = layers[i]!;
              const count = cores[i]!.neurons.length;
              const channels =
                baseline === "random"
                  ? sampleWithoutReplacement(widths.get(l)!, count, random)
                  : mct.get(l)!.slice(0, count);
              return { layer: l, channels, mode };
            });
            values.push(await accuracy(masks));
            step(`τ ${tau}, ${mode} ${scope}: ${layers[j]} ${baseline} ${d + 1}/${draws}`);
          }
          curve.baseline.push(mean(values));
          curve.baselineStd.push(sampleStd(values));
        }
        curves.push(curve);
      }
    }
  }
  return {
    kind: "fidelityOfNeurons",
    params: { taus, modes, scopes, baseline, draws, seed, images: images.shape[0] },
    layers,
    coreCounts: perTau.map(({ tau, layers: c }) => ({ tau, counts: c.map((l) => l.neurons.length) })),
    unmaskedAccuracy,
    curves,
    seconds: (performance.now() - started) / 1000,
  };
}
