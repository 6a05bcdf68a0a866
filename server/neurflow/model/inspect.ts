/**
 * The structural check of an uploaded model, made at upload without building or running it: the
 * ONNX graph decodes and is wired (`checkOnnx`, the importer's own checks), or the TF.js topology
 * is a layers model; every manifest layer names a tensor of the graph; and where the graph states
 * its logits width, it matches the manifest's class count. What only a run can tell (shapes, the
 * weights' fit) stays with the worker's load check (`loadModel`).
 */
import type { Manifest } from "./manifest";
import { checkOnnx } from "./onnx/importOnnx";

export class ModelCheckError extends Error {
  override name = "ModelCheckError";
}

function fail(message: string): never {
  throw new ModelCheckError(message);
}

function checkLayers(manifest: Manifest, tensors: Set<string>, what: string): void {
  for (const l of manifest.layers)
    if (!tensors.has(l.tensor))
      fail(`manifest layer "${l.name}" names the tensor "${l.tensor}", which ${what} does not have`);
}

function checkLogits(manifest: Manifest, width: number | null, what: string): void {
  if (width != null && width !== manifest.classes.length)
    fail(`${what} has ${width} logits but the manifest lists ${manifest.classes.length} classes`);
}

/** Checks an ONNX file against its manifest; throws ModelCheckError naming the problem. */
export function checkOnnxUpload(manifest: Manifest, bytes: Uint8Array): void {
  let checked: ReturnType<typeof checkOnnx>;
  try {
    checked = checkOnnx(bytes, {
      ...(manifest.input.name ? { inputName: manifest.input.name } : {}),
      inputLayout: manifest.input.layout,
      name: manifest.name,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const g = checked.model.graph;
  const tensors = new Set<string>([checked.inputName, ...g.nodes.flatMap((n) => n.outputs.filter(Boolean))]);
  checkLayers(manifest, tensors, "the ONNX graph");
  const dims = g.outputs[0]?.shape;
  const last = dims?.at(-1);
  checkLogits(manifest, typeof last === "number" && last > 0 ? last : null, "the ONNX graph's output");
}

interface KerasLayer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The layers of a Keras topology (`modelTopology`, or its `model_config`). */
function kerasLayers(topology: unknown): { layers: KerasLayer[]; outputs: string[] } {
  const root = isObject(topology) && isObject(topology.model_config) ? topology.model_config : topology;
  if (!isObject(root) || typeof root.class_name !== "string")
    fail("model.json: modelTopology is not a Keras layers model (no class_name)");
  const kind = root.class_name;
  if (!["Sequential", "Model", "Functional"].includes(kind))
    fail(`model.json: a "${kind.slice(0, 100)}" topology is not a layers model (Sequential or Model expected)`);
  const config = root.config;
  const list = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(list) || list.length === 0) fail("model.json: the topology lists no layers");
  const layers = list.map((l, i): KerasLayer => {
    if (!isObject(l) || typeof l.class_name !== "string" || !isObject(l.config))
      fail(`model.json: layer ${i} has no class_name or config`);
    const name =
      typeof l.name === "string"
        ? l.name
        : typeof l.config.name === "string"
          ? l.config.name
          : fail(`model.json: layer ${i} (${l.class_name}) has no name`);
    const inbound = Array.isArray(l.inbound_nodes)
      ? (JSON.stringify(l.inbound_nodes)
          .match(/"([^"]+)"/g)
          ?.map((s) => s.slice(1, -1)) ?? [])
      : [];
    return { class_name: l.class_name, name, config: l.config, inbound };
  });
  const names = new Set<string>();
  for (const l of layers) {
    if (names.has(l.name)) fail(`model.json: two layers are named "${l.name}"`);
    names.add(l.name);
  }
  let outputs: string[] = [layers.at(-1)!.name];
  if (kind !== "Sequential" && isObject(config) && Array.isArray(config.output_layers)) {
    outputs = config.output_layers.map((o) =>
      Array.isArray(o) && typeof o[0] === "string" ? o[0] : fail("model.json: malformed output_layers"),
    );
    for (const o of outputs) if (!names.has(o)) fail(`model.json: the output layer "${o}" is not a layer of the model`);
  }
  return { layers, outputs };
}

/** The logits width: `units` of the output layer, or of the Dense it activates. */
function layersLogits(layers: KerasLayer[], output: string): number | null {
  const byName = new Map(layers.map((l) => [l.name, l]));
  let l = byName.get(output);
  for (let hops = 0; l && hops < 3; hops++) {
    if (typeof l.config.units === "number") return l.config.units;
    if (!["Activation", "Softmax"].includes(l.class_name)) return null;
    const prev: string | undefined = l.inbound.find((n) => byName.has(n)) ?? layers[layers.indexOf(l) - 1]?.name;
    l = prev ? byName.get(prev) : undefined;
  }
  return null;
}

/** Checks a TF.js layers model's topology (model.json's `modelTopology`) against its manifest. */
export function checkLayersUpload(manifest: Manifest, modelTopology: unknown): void {
  const { layers, outputs } = kerasLayers(modelTopology);
  // the engine names a layer's tensor by the layer's name (`name#k` / `name:k` for further outputs)
  const tensors = new Set(layers.map((l) => l.name));
  for (const l of manifest.layers) {
    const base = l.tensor.replace(/[#:]\d+$/, "").replace(/#\d+$/, "");
    if (!tensors.has(base))
      fail(`manifest layer "${l.name}" names the tensor "${l.tensor}", which the TF.js model does not have`);
  }
  if (outputs.length !== 1) fail(`model.json: the model has ${outputs.length} outputs; one (the logits) is expected`);
  checkLogits(manifest, layersLogits(layers, outputs[0]!), "the TF.js model");
}
