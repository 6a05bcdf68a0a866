/**
 * Builds deterministic `neurflow-circuit/1` documents without the engine: shapes like a real run
 * (hypertree of core neurons, semantic groups, neuron groups, group edges), values from a seeded
 * generator. Used by the round-trip test and by the fake engine.
 */
import { CIRCUIT_FORMAT, type Circuit, type CircuitLayer, type CircuitTarget } from "~/server/neurflow/light";

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

export interface SyntheticOptions {
  seed?: number;
  layers?: string[];
  classes?: string[];
  className?: string;
  images?: number;
  tau?: number;
  k?: number;
  /** Channels of every lower layer. */
  channels?: number;
  /** Include optional fields (checksum, igCompleteness, timings) — some, in a pattern. */
  optionals?: boolean;
}

export function syntheticPatches(images: number, size = 64): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  for (const g of [1, 0.5, 0.25]) {
    const s = Math.floor(g * size);
    const stride = Math.max(Math.min(Math.floor(s * 0.5), size - s), 1);
    for (let i = 0; i < images; i++)
      for (let y = 0; y + s <= size; y += stride) for (let x = 0; x + s <= size; x += stride) out.push([i, x, y, s]);
  }
  return out;
}

/** One layer pair for the given targets (deterministic in seed + layer index). */
export function syntheticLayer(
  o: Required<SyntheticOptions>,
  li: number,
  targetNeurons: number[],
  patchCount: number,
): CircuitLayer {
  const r = rng(o.seed * 1000 + li + 1);
  const upper = o.layers[li]!;
  const lower = o.layers[li + 1]!;
  const targets: CircuitTarget[] = targetNeurons.map((neuron, ti) => {
    const topPatches = Array.from({ length: o.k }, () => Math.floor(r() * patchCount));
    const topActivations = topPatches.map((_, i) => 10 - i * 0.37 + r() * 0.1);
    const groupsN = 2 + Math.floor(r() * 2);
    const semanticGroups = topPatches.map(() => Math.floor(r() * groupsN));
    for (let g = 0; g < groupsN; g++) semanticGroups[g] = g; // every group present
    const importance = Array.from({ length: o.channels }, () => r() * 2 - 1);
    const coreNeurons = importance
      .map((v, c) => [Math.abs(v), c] as const)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, o.tau)
      .map(([, c]) => c);
    const edges = [];
    for (let g = 0; g < groupsN; g++)
      for (const n of coreNeurons) edges.push({ semanticGroup: g, neuron: n, weight: r() * 2 - 1 });
    const t: CircuitTarget = { neuron, topPatches, topActivations, semanticGroups, importance, coreNeurons, edges };
    if (o.optionals && ti % 2 === 0) t.igCompleteness = r() * 1e-3;
    return t;
  });
  // neuron groups: (target, semantic group) pairs dealt round-robin into a few groups
  const pairs = targets.flatMap((t) =>
    [...new Set(t.semanticGroups)].map((g) => ({ neuron: t.neuron, semanticGroup: g })),
  );
  const nGroups = Math.max(1, Math.min(pairs.length, 2 + Math.floor(r() * 3)));
  const neuronGroups = Array.from({ length: nGroups }, (_, id) => ({
    id,
    members: pairs.filter((_, i) => i % nGroups === id),
  })).filter((g) => g.members.length > 0);
  const layer: CircuitLayer = { upper, lower, targets, neuronGroups, groupEdges: [] };
  if (o.optionals && li % 2 === 1) layer.timings = { attribution: r() * 10, clustering: r() };
  return layer;
}

/** Group edges between layer li's groups (parents) and layer li+1's groups (children). */
export function syntheticGroupEdges(
  seed: number,
  upper: CircuitLayer,
  lower: CircuitLayer | undefined,
): CircuitLayer["groupEdges"] {
  if (!lower) return [];
  const r = rng(seed * 7919 + upper.targets.length);
  const out: CircuitLayer["groupEdges"] = [];
  for (const p of upper.neuronGroups)
    for (const c of lower.neuronGroups) if (r() < 0.7) out.push({ child: c.id, parent: p.id, weight: r() * 2 - 1 });
  return out;
}

export function withDefaults(opts: SyntheticOptions): Required<SyntheticOptions> {
  const classes = opts.classes ?? ["bee", "ladybug", "fish", "sun", "tree", "car"];
  return {
    seed: opts.seed ?? 1,
    layers: opts.layers ?? ["fc", "layer4.1", "layer4.0", "layer3.1"],
    classes,
    className: opts.className ?? classes[0]!,
    images: opts.images ?? 4,
    tau: opts.tau ?? 3,
    k: opts.k ?? 8,
    channels: opts.channels ?? 12,
    optionals: opts.optionals ?? true,
  };
}

export function syntheticCircuit(opts: SyntheticOptions = {}): Circuit {
  const o = withDefaults(opts);
  const patches = syntheticPatches(o.images);
  const layers: CircuitLayer[] = [];
  let targets = [o.classes.indexOf(o.className)];
  for (let li = 0; li + 1 < o.layers.length; li++) {
    const layer = syntheticLayer(o, li, targets, patches.length);
    layers.push(layer);
    targets = [...new Set(layer.targets.flatMap((t) => t.coreNeurons))].sort((a, b) => a - b);
  }
  layers.forEach((l, i) => (l.groupEdges = syntheticGroupEdges(o.seed, l, layers[i + 1])));
  const c: Circuit = {
    format: CIRCUIT_FORMAT,
    model: {
      name: "toyworld-a",
      classes: o.classes,
      inputSize: 64,
      ...(o.optionals ? { checksum: "sha256:abc" } : {}),
    },
    class: { index: o.classes.indexOf(o.className), name: o.className },
    params: {
      preset: "default",
      tau: o.tau,
      k: o.k,
      igFallbackSteps: 0,
      igTolerance: 0.01,
      igSteps: 50,
      igMethod: "gausslegendre",
      importance: "meanAbs",
      edgeNormalization: "sequential",
      granularities: [1, 0.5, 0.25],
      strideRatio: 0.5,
      maxSemanticGroups: 5,
      maxNeuronGroups: 100,
      layers: o.layers,
      backend: "fake",
      seed: o.seed,
    },
    images: Array.from({ length: o.images }, (_, i) => `${String(i).padStart(3, "0")}.png`),
    patches,
    layers,
    createdAt: "2025-01-01T00:00:00.000Z",
  };
  if (o.optionals) c.timings = { total: 12.5, patches: 0.25 };
  return c;
}
