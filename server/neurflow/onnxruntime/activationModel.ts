/**
 * The activation pass as one onnxruntime model: the image batch (internal NHWC layout) through the
 * network once, giving the spatial mean of every channel of every chosen layer and the full maps
 * (NHWC) of the kept lower layers.
 */
import { OnnxGraphBuilder, type NodeProto } from "./onnxBuilder";
import { reduceMean, type VjpContext } from "./gradients";
import { targetOpset } from "./igModel";
import { UnsupportedSlice, type SourceGraph } from "./sliceGraph";

export const ACT_INPUT = "nf/images";
export const meanOutput = (i: number) => `nf/mean/${i}`;
export const mapOutput = (i: number) => `nf/map/${i}`;

/** `ranks[i]`: rank of layer i's tensor (2 or 4); `kept`: indices of the layers whose maps are returned. */
export function compileActivationModel(
  g: SourceGraph,
  inputName: string,
  layers: readonly string[],
  ranks: readonly number[],
  kept: readonly number[],
): Uint8Array {
  const opset = targetOpset(g.opset);
  const b = new OnnxGraphBuilder(g.initializers);
  b.input(ACT_INPUT, "float32", ["B", "H", "W", 3]);
  b.op("Transpose", [ACT_INPUT], { perm: [0, 3, 1, 2] }, [inputName]);
  // the nodes the layers need, in a topological order (depth-first, inputs first)
  const done = new Set<string>([inputName, ""]);
  const visit = (t: string) => {
    if (done.has(t)) return;
    done.add(t);
    if (g.initializers.has(t)) {
      b.includeInitializer(t);
      return;
    }
    const p = g.producer.get(t);
    if (p === undefined) throw new UnsupportedSlice(`tensor "${t}" is not computed from the input`);
    const n: NodeProto = g.nodes[p]!;
    for (const o of n.output ?? []) done.add(o);
    for (const i of n.input ?? []) visit(i);
    b.copy(n, n.input ?? [], n.output ?? []);
  };
  for (const t of layers) visit(t);
  const ctx = { b, opset } as VjpContext;
  layers.forEach((t, i) => {
    if (ranks[i] === 4) b.op("Identity", [reduceMean(ctx, t, [2, 3], 0)], {}, [meanOutput(i)]);
    else if (ranks[i] === 2) b.op("Identity", [t], {}, [meanOutput(i)]);
    else throw new UnsupportedSlice(`layer tensor "${t}" has rank ${ranks[i]}`);
    b.output(meanOutput(i), "float32");
  });
  for (const i of kept) {
    const t = layers[i]!;
    b.op(ranks[i] === 4 ? "Transpose" : "Identity", [t], ranks[i] === 4 ? { perm: [0, 2, 3, 1] } : {}, [mapOutput(i)]);
    b.output(mapOutput(i), "float32");
  }
  return b.encode(opset);
}
