/**
 * The circuit document, format `neurflow-circuit/1` (docs/circuit-format.md). The engine returns
 * exactly this shape; the platform stores it and exports it again unchanged.
 */
import { z } from "zod";

export const CIRCUIT_FORMAT = "neurflow-circuit/1";

const int = z.number().int();
const nonNeg = int.nonnegative();

/** An image's name as the engine lists it: a plain file name of the class folder, never a path. */
const imageFileName = z
  .string()
  .min(1)
  .max(255)
  .refine(
    (n) => !/[/\\\u0000-\u001f\u007f]/.test(n) && n !== "." && n !== "..",
    "an image name must be a plain file name, without folders or control characters",
  );

export const circuitEdgeSchema = z.object({
  /** Semantic group (of the parent target) the edge belongs to. */
  semanticGroup: nonNeg,
  /** Core neuron (channel of the lower layer). */
  neuron: nonNeg,
  /** Signed, normalised IG weight: Σ over the parent's core neurons of |weight| ≈ 1 per semantic group. */
  weight: z.number(),
});

export const circuitTargetSchema = z.object({
  /** Channel (or unit) of the upper layer. */
  neuron: nonNeg,
  /** Patch indices, descending activation. */
  topPatches: z.array(nonNeg),
  /** Activation (spatial mean) of `neuron` on each top patch. */
  topActivations: z.array(z.number()),
  /** Semantic group index of each top patch (same order as topPatches). */
  semanticGroups: z.array(nonNeg),
  /** One score per channel of the lower layer. */
  importance: z.array(z.number()),
  /** Core concept neurons of the lower layer, descending importance. */
  coreNeurons: z.array(nonNeg),
  edges: z.array(circuitEdgeSchema),
  /** Completeness error of the integrated gradients over the top patches (relative, see docs). */
  igCompleteness: z.number().optional(),
  /** Quadrature nodes used for this target (igSteps, or igFallbackSteps after a retry). */
  igSteps: int.positive().optional(),
});

export const neuronGroupSchema = z.object({
  id: nonNeg,
  members: z.array(z.object({ neuron: nonNeg, semanticGroup: nonNeg })).min(1),
});

export const groupEdgeSchema = z.object({
  /** Neuron group of the entry one step down (whose targets are this entry's core neurons). */
  child: nonNeg,
  /** Neuron group of this entry. */
  parent: nonNeg,
  weight: z.number(),
});

export const circuitLayerSchema = z.object({
  upper: z.string(),
  lower: z.string(),
  targets: z.array(circuitTargetSchema),
  neuronGroups: z.array(neuronGroupSchema),
  groupEdges: z.array(groupEdgeSchema),
  /** Seconds spent on this layer, by stage. */
  timings: z.record(z.string(), z.number()).optional(),
});

export const circuitParamsSchema = z.object({
  preset: z.enum(["reference", "default"]),
  tau: int.positive(),
  k: int.positive(),
  igSteps: int.positive(),
  /** Nodes to retry a target with when its completeness error exceeds igTolerance (0: never). */
  igFallbackSteps: int.nonnegative(),
  igTolerance: z.number().positive(),
  /**
   * When the fallback rule is used: "completeness" (for each top patch whose completeness error
   * exceeds igTolerance) or "coreSet" (for all top patches of a target whose core set the estimated
   * quadrature error could change). Absent in documents written before it existed: "completeness".
   */
  igRefine: z.enum(["completeness", "coreSet"]).optional(),
  igMethod: z.enum(["gausslegendre", "riemann", "gausskronrod"]),
  importance: z.enum(["absMean", "meanAbs"]),
  edgeNormalization: z.enum(["sequential", "sum"]),
  granularities: z.array(z.number().positive().max(1)),
  strideRatio: z.number().positive().max(1),
  maxSemanticGroups: int.min(2),
  maxNeuronGroups: int.min(2),
  layers: z.array(z.string()).min(2),
  backend: z.string(),
  seed: int,
});

export const circuitSchema = z.object({
  format: z.literal(CIRCUIT_FORMAT),
  model: z.object({
    name: z.string(),
    classes: z.array(z.string()),
    inputSize: int.positive(),
    checksum: z.string().optional(),
  }),
  class: z.object({ index: nonNeg, name: z.string() }),
  params: circuitParamsSchema,
  /** Image file names in the order used (sorted by name); only images the model assigns to the class. */
  images: z.array(imageFileName),
  /** [imageIndex, x, y, size] per patch, in pixels of the model-size image. */
  patches: z.array(z.tuple([nonNeg, nonNeg, nonNeg, int.positive()])),
  layers: z.array(circuitLayerSchema),
  createdAt: z.string(),
  /** Seconds, by stage, for the whole run. */
  timings: z.record(z.string(), z.number()).optional(),
});

export type CircuitEdge = z.infer<typeof circuitEdgeSchema>;
export type CircuitTarget = z.infer<typeof circuitTargetSchema>;
export type NeuronGroup = z.infer<typeof neuronGroupSchema>;
export type GroupEdge = z.infer<typeof groupEdgeSchema>;
export type CircuitLayer = z.infer<typeof circuitLayerSchema>;
export type CircuitParams = z.infer<typeof circuitParamsSchema>;
export type Circuit = z.infer<typeof circuitSchema>;

/** Validates a circuit document from outside (an import); throws a clear error. */
export function parseCircuit(value: unknown): Circuit {
  const r = circuitSchema.safeParse(value);
  if (!r.success) {
    const first = r.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`not a ${CIRCUIT_FORMAT} document: ${first.join("; ")}`);
  }
  return r.data;
}
