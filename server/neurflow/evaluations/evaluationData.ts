/**
 * What every evaluation and application runs on: a stored circuit, its model and the circuit's own
 * images (normalised, in the circuit's order) with the circuit's patches. Checks that the model is
 * the one the circuit was computed with (name, classes, input size, and the weights' checksum when
 * both have one) and that every image the circuit names is there.
 */
import { basename, join } from "node:path";
import type { Circuit } from "../circuitFormat";
import { loadClassImages } from "../images";
import { loadModel, type ClassifierModel, type ModelSource } from "../model/loadModel";
import type { Patch } from "../patches";
import type { DecodedImages } from "../runTypes";
import { tf } from "../tf";

export interface EvaluationData {
  circuit: Circuit;
  model: ClassifierModel;
  classIndex: number;
  /** Normalised images [N, S, S, 3], the circuit's images in its order. */
  images: tf.Tensor4D;
  patches: Patch[];
  /** Where the model was loaded from (absent when the caller passed a loaded model). */
  source?: ModelSource;
  dispose(): void;
}

export function checkModelMatches(circuit: Circuit, model: ClassifierModel): void {
  const m = model.manifest;
  const problems: string[] = [];
  if (m.name !== circuit.model.name)
    problems.push(`its name is "${m.name}", the circuit's model is "${circuit.model.name}"`);
  if (JSON.stringify(m.classes) !== JSON.stringify(circuit.model.classes)) problems.push("its classes differ");
  if (m.input.size !== circuit.model.inputSize)
    problems.push(`it takes ${m.input.size} px, the circuit ${circuit.model.inputSize} px`);
  if (circuit.model.checksum && model.checksum && circuit.model.checksum !== model.checksum)
    problems.push("its weights differ (checksum)");
  if (problems.length) throw new Error(`this model is not the circuit's: ${problems.join("; ")}`);
  for (const l of circuit.params.layers) model.layerTensor(l);
}

/**
 * `images`: a folder holding (at least) the circuit's image files, or the circuit's images already
 * decoded, in its order.
 */
export async function loadEvaluationData(
  circuit: Circuit,
  modelSource: ModelSource | ClassifierModel,
  images: string | DecodedImages,
): Promise<EvaluationData> {
  const owned = typeof modelSource === "string" || !("graph" in modelSource);
  const model = owned ? await loadModel(modelSource as ModelSource) : (modelSource as ClassifierModel);
  try {
    checkModelMatches(circuit, model);
    const S = model.manifest.input.size;
    let source: string[] | DecodedImages;
    if (typeof images === "string") {
      source = circuit.images.map((name) => {
        if (basename(name) !== name)
          throw new Error(`the circuit names an image "${name}" that is not a plain file name`);
        return join(images, name);
      });
    } else {
      if (JSON.stringify(images.names) !== JSON.stringify(circuit.images))
        throw new Error("the decoded images are not the circuit's images (names or order differ)");
      source = images;
    }
    const loaded = await loadClassImages(source, S).catch((e: Error) => {
      throw new Error(`cannot load the circuit's images: ${e.message}`);
    });
    const tensor = tf.tidy(() => model.preprocess(tf.tensor4d(loaded.pixels, [loaded.names.length, S, S, 3])));
    const patches = circuit.patches.map((p) => [...p] as Patch);
    return {
      circuit,
      model,
      classIndex: circuit.class.index,
      images: tensor,
      patches,
      ...(owned ? { source: modelSource as ModelSource } : {}),
      dispose() {
        tensor.dispose();
        if (owned) model.dispose();
      },
    };
  } catch (e) {
    if (owned) model.dispose();
    throw e;
  }
}
