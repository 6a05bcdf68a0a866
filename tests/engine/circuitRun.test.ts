/** A small circuit run: progress, checkpoints, resume, cancel, determinism, group edges. */
import { describe, expect, it } from "vitest";
import { buildCircuit } from "~/server/neurflow/circuit";
import type { Circuit } from "~/server/neurflow/circuitFormat";
import type { CircuitCheckpoint, CircuitProgress, CircuitRequest } from "~/server/neurflow/runTypes";

const dir = "tests/fixtures/toyworld-a";
const req: CircuitRequest = {
  manifestPath: `${dir}/manifest.json`,
  images: Array.from({ length: 4 }, (_, i) => `${dir}/images/ladybug/00${i}.png`),
  className: "ladybug",
  layers: ["fc", "layer4.1", "layer4.0", "layer3.1"],
  params: { tau: 3, k: 12, igSteps: 4, igFallbackSteps: 0 },
};

const stable = (c: Circuit) => ({
  ...c,
  createdAt: "",
  timings: {},
  layers: c.layers.map((l) => ({ ...l, timings: {} })),
});

describe("a circuit run", () => {
  let first: Circuit;
  const progress: CircuitProgress[] = [];
  const checkpoints: CircuitCheckpoint[] = [];

  it("reports monotone progress and checkpoints after every layer pair", async () => {
    first = await buildCircuit(req, {
      onProgress: (p) => progress.push(p),
      onCheckpoint: (c) => void checkpoints.push(c),
    });
    const fractions = progress.map((p) => p.fraction);
    expect(fractions[fractions.length - 1]).toBe(1);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]!).toBeGreaterThanOrEqual(fractions[i - 1]!);
    expect(checkpoints.map((c) => c.layers.length)).toEqual([1, 2, 3]);
    expect(first.layers.map((l) => [l.upper, l.lower])).toEqual([
      ["fc", "layer4.1"],
      ["layer4.1", "layer4.0"],
      ["layer4.0", "layer3.1"],
    ]);
  });

  it("builds the hypertree from the class logit down", () => {
    expect(first.layers[0]!.targets.map((t) => t.neuron)).toEqual([1]);
    for (let i = 1; i < first.layers.length; i++) {
      const expected = [...new Set(first.layers[i - 1]!.targets.flatMap((t) => t.coreNeurons))].sort((a, b) => a - b);
      expect(first.layers[i]!.targets.map((t) => t.neuron)).toEqual(expected);
    }
    for (const l of first.layers) {
      for (const t of l.targets) {
        expect(t.topPatches).toHaveLength(12);
        expect(t.coreNeurons).toHaveLength(3);
        // descending activation, and core neurons by descending importance
        for (let i = 1; i < t.topActivations.length; i++)
          expect(t.topActivations[i]!).toBeLessThanOrEqual(t.topActivations[i - 1]!);
        const imp = t.coreNeurons.map((c) => t.importance[c]!);
        for (let i = 1; i < imp.length; i++) expect(imp[i]!).toBeLessThanOrEqual(imp[i - 1]!);
        // one edge per (semantic group, core neuron)
        expect(t.edges).toHaveLength(new Set(t.semanticGroups).size * 3);
      }
      // every (target, semantic group) pair is in exactly one neuron group
      const members = l.neuronGroups.flatMap((g) => g.members.map((m) => `${m.neuron}:${m.semanticGroup}`));
      const pairs = l.targets.flatMap((t) => [...new Set(t.semanticGroups)].map((g) => `${t.neuron}:${g}`));
      expect(members.sort()).toEqual(pairs.sort());
    }
  });

  it("sums member edges into group edges", () => {
    const [top, below] = [first.layers[0]!, first.layers[1]!];
    for (const ge of top.groupEdges) {
      const parent = top.neuronGroups[ge.parent]!;
      const childNeurons = new Set(below.neuronGroups[ge.child]!.members.map((m) => m.neuron));
      let sum = 0;
      for (const m of parent.members) {
        const t = top.targets.find((x) => x.neuron === m.neuron)!;
        for (const e of t.edges) if (e.semanticGroup === m.semanticGroup && childNeurons.has(e.neuron)) sum += e.weight;
      }
      expect(ge.weight).toBeCloseTo(sum, 12);
    }
    expect(top.groupEdges.length).toBeGreaterThan(0);
    expect(first.layers[first.layers.length - 1]!.groupEdges).toEqual([]);
  });

  it("is deterministic, and resuming from a checkpoint gives the same circuit", async () => {
    const resumed = await buildCircuit(req, { resume: checkpoints[0]! });
    expect(stable(resumed)).toEqual(stable(first));
  });

  it("can be cancelled", async () => {
    const ac = new AbortController();
    const run = buildCircuit(req, {
      signal: ac.signal,
      onProgress: (p) => {
        if (p.stage === "layer") ac.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("cancelling during the activation pass", () => {
  it("stops a run whose activation batches are spread over workers", async () => {
    const ac = new AbortController();
    let seen = 0;
    const run = buildCircuit(req, {
      workers: 2,
      onnxRuntime: false,
      batchSize: 16,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.stage === "activations" && p.done >= 1 && p.total > 1) {
          seen++;
          ac.abort();
        }
        if (p.stage === "layer") throw new Error("the run went on past the activation pass");
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(seen).toBeGreaterThan(0);
  });
});

describe("attribution in worker threads", () => {
  it("gives the same circuit as in-process attribution", async () => {
    const small: CircuitRequest = { ...req, layers: ["fc", "layer4.1", "layer4.0"] };
    const inProcess = await buildCircuit(small, { workers: 0, onnxRuntime: false });
    const threaded = await buildCircuit(small, { workers: 2, onnxRuntime: false });
    expect(threaded.params.backend).toBe("wasm");
    expect(stable(threaded)).toEqual(stable(inProcess));
  });
});

describe("lower-layer maps", () => {
  it("give the same circuit whether kept from the activation pass, computed once per pair, or per target", async () => {
    // 4 images: 236 patches; layer4.1 and layer4.0 maps are 8 KB a patch, layer3.1 16 KB
    for (const onnxRuntime of [false, true]) {
      const kept = await buildCircuit(req, { workers: 0, onnxRuntime });
      const mixed = await buildCircuit(req, { workers: 0, onnxRuntime, mapsBudgetBytes: 2.5 * 2 ** 20 });
      const perTarget = await buildCircuit(req, { workers: onnxRuntime ? 0 : 2, onnxRuntime, mapsBudgetBytes: 0 });
      expect(kept.params.backend).toBe(onnxRuntime ? "onnxruntime+wasm" : "wasm");
      expect(stable(mixed)).toEqual(stable(kept));
      expect(stable(perTarget)).toEqual(stable(kept));
    }
  });
});

describe("the heavy passes on onnxruntime", () => {
  it("give the circuit TensorFlow.js gives, within float rounding", async () => {
    const onTf = await buildCircuit(req, { workers: 0, onnxRuntime: false });
    const onOrt = await buildCircuit(req, { workers: 0, onnxRuntime: true });
    expect(onOrt.params.backend).toBe("onnxruntime+wasm");
    expect(onOrt.images).toEqual(onTf.images);
    onOrt.layers.forEach((l, li) => {
      const t = onTf.layers[li]!;
      expect(l.targets.map((x) => x.neuron)).toEqual(t.targets.map((x) => x.neuron));
      l.targets.forEach((x, ti) => {
        const y = t.targets[ti]!;
        expect(x.topPatches).toEqual(y.topPatches);
        expect(x.coreNeurons).toEqual(y.coreNeurons);
        expect(x.semanticGroups).toEqual(y.semanticGroups);
        const scale = Math.max(...y.importance.map(Math.abs));
        x.importance.forEach((v, c) => expect(Math.abs(v - y.importance[c]!)).toBeLessThan(1e-4 * scale));
        x.edges.forEach((e, k) => expect(Math.abs(e.weight - y.edges[k]!.weight)).toBeLessThan(1e-4));
      });
      expect(l.neuronGroups.map((g) => g.members)).toEqual(t.neuronGroups.map((g) => g.members));
    });
  });
});
