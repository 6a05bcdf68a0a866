/**
 * An ONNX classifier on onnxruntime: the activation pass and the integrated gradients of its layer
 * pairs, compiled on first use into models of their own (activationModel.ts, igModel.ts) and kept
 * as sessions. A layer pair whose slice has an op without a gradient rule is reported unsupported
 * (null), and the engine computes it on TensorFlow.js instead.
 */
import { readFile } from "node:fs/promises";
import type { IgResult } from "../integratedGradients";
import type { QuadratureRule } from "../quadrature";
import { compileActivationModel, ACT_INPUT, mapOutput, meanOutput } from "./activationModel";
import { compileIgModel, compileSharedIg, IG_INPUTS, IG_OUTPUTS, shapeProbeModel, type SharedTensor } from "./igModel";
import { onnx } from "./onnxBuilder";
import { createSession, loadOnnxRuntime, onnxRuntimeThreads, type OrtSession } from "./runtime";
import { numberAttr as numberAttrOf } from "./onnxBuilder";
import { CH, sourceGraph, UnsupportedSlice, X, type SourceGraph } from "./sliceGraph";

type Ort = NonNullable<Awaited<ReturnType<typeof loadOnnxRuntime>>>;

export interface ActivationOutputs {
  /** Per layer: [B × channels] spatial means. */
  means: Float32Array[];
  /** Per kept layer (same order as `kept`): [B, ...row] maps, NHWC. */
  maps: Float32Array[];
  /** Their row shapes. */
  mapShapes: number[][];
}

/** How the targets of a pair share forward work (see sharedIntegratedGradients). */
export interface SharingOptions {
  /** The target's top patches, in the order of its maps (their ids across the pair). */
  patchIds: readonly number[];
  /** Most bytes of shared forward work kept for a pair. */
  budgetBytes: number;
  /** Least FLOPs of shared work per value handed over (default SHARE_MIN_FLOPS_PER_VALUE). */
  minFlopsPerValue?: number;
}

export class OnnxRuntimeModel {
  private readonly sessions = new Map<string, Promise<{ session: OrtSession; upper: string; offset: number } | null>>();
  private readonly activationSessions = new Map<string, Promise<OrtSession>>();
  private closed = false;
  /** Why the last unsupported slice was refused (for logs). */
  readonly refusals: string[] = [];

  private constructor(
    private readonly ort: Ort,
    private readonly g: SourceGraph,
    private readonly inputName: string,
    private readonly threads: number,
  ) {}

  /** The model file on onnxruntime, or null where onnxruntime is not installed. */
  static async open(
    file: string,
    inputName: string | undefined,
    threads = onnxRuntimeThreads(),
  ): Promise<OnnxRuntimeModel | null> {
    const ort = await loadOnnxRuntime();
    if (!ort) return null;
    const bytes = await readFile(file);
    const model = onnx.ModelProto.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const graph = model.graph!;
    const opset = Number(model.opsetImport?.find((o) => !o.domain || o.domain === "ai.onnx")?.version ?? 0);
    const g = sourceGraph(graph.node ?? [], graph.initializer ?? [], opset);
    const inits = new Set((graph.initializer ?? []).map((t) => t.name));
    const input = inputName ?? graph.input?.find((i) => !inits.has(i.name))?.name;
    if (!input) throw new Error("the ONNX model has no input");
    return new OnnxRuntimeModel(ort, g, input, threads);
  }

  /** The activation pass over a batch of preprocessed images [B, S, S, 3] (NHWC). */
  async activations(
    batch: Float32Array,
    shape: readonly number[],
    layers: readonly string[],
    ranks: readonly number[],
    kept: readonly number[],
  ): Promise<ActivationOutputs> {
    const key = JSON.stringify([layers, ranks, kept]);
    let pending = this.activationSessions.get(key);
    if (!pending) {
      pending = createSession(
        this.ort,
        compileActivationModel(this.g, this.inputName, layers, ranks, kept),
        this.threads,
      );
      this.activationSessions.set(key, pending);
    }
    const session = await pending;
    const out = await session.run({ [ACT_INPUT]: new this.ort.Tensor("float32", batch, [...shape]) });
    return {
      means: layers.map((_, i) => out[meanOutput(i)]!.data as Float32Array),
      maps: kept.map((i) => out[mapOutput(i)]!.data as Float32Array),
      mapShapes: kept.map((i) => [...out[mapOutput(i)]!.dims].slice(1).map(Number)),
    };
  }

  /**
   * The IG session for (lower, upper, channel): where the upper tensor is a concatenation along
   * channels, the target's channel comes from one of its inputs alone, and the slice ends there.
   */
  private async igSession(lower: string, upper: string, channel: number, rowShape: readonly number[]) {
    try {
      return await this.routedSession(lower, upper, channel, rowShape);
    } catch (e) {
      if (!(e instanceof UnsupportedSlice)) throw e;
      this.refusals.push(`${lower} → ${upper}: ${e.message}`);
      return null;
    }
  }

  /** The tensor that makes `channel` of `upper` (an input of a Concat along channels, followed down) and its offset there. */
  private async route(lower: string, upper: string, channel: number, rowShape: readonly number[]) {
    let target = upper;
    let offset = 0;
    for (;;) {
      const p = this.g.producer.get(target);
      const n = p === undefined ? undefined : this.g.nodes[p];
      if (!n || n.opType !== "Concat" || numberAttrOf(n, "axis", 1) !== 1) break;
      const shapes = await this.shapes(lower, target, rowShape);
      let start = 0;
      let next: string | null = null;
      for (const t of n.input ?? []) {
        const c = shapes.get(t)?.[0];
        if (c === undefined) {
          next = null;
          break;
        }
        if (channel - offset < start + c) {
          next = t;
          break;
        }
        start += c;
      }
      if (!next || next === lower) break;
      offset += start;
      target = next;
    }
    return { target, offset };
  }

  private async routedSession(lower: string, upper: string, channel: number, rowShape: readonly number[]) {
    const { target, offset } = await this.route(lower, upper, channel, rowShape);
    const key = `${lower}\u0000${target}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = (async () => {
        const shapes = await this.shapes(lower, target, rowShape);
        const bytes = compileIgModel(this.g, lower, target, shapes);
        return { session: await createSession(this.ort, bytes, this.threads), upper: target, offset };
      })();
      // an unsupported slice stays refused; a failed compile is tried again next time
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    const r = await s;
    return r && { ...r, offset };
  }

  private readonly sharedSessions = new Map<
    string,
    Promise<{ forward: OrtSession; perTarget: OrtSession; shared: SharedTensor[] } | null>
  >();
  /**
   * The shared forward tensors of the current layer pair, per (slice, rule) and patch: [nodes × row]
   * per shared tensor. Dropped when the circuit moves to another pair.
   */
  private readonly forwardCache = new Map<
    string,
    { bytes: number; patches: Map<number, (Float32Array | BigInt64Array)[]> }
  >();
  private forwardCacheBytes = 0;

  /** Bytes of shared forward work kept for the current layer pair. */
  get sharedForwardBytes(): number {
    return this.forwardCacheBytes;
  }

  private async sharedSession(
    lower: string,
    upper: string,
    channel: number,
    rowShape: readonly number[],
    minFlopsPerValue?: number,
  ) {
    const { target, offset } = await this.route(lower, upper, channel, rowShape);
    const key = `${lower}\u0000${target}\u0000${minFlopsPerValue ?? "default"}`;
    let s = this.sharedSessions.get(key);
    if (!s) {
      s = (async () => {
        const shapes = await this.shapes(lower, target, rowShape);
        const split = compileSharedIg(this.g, lower, target, shapes, minFlopsPerValue);
        if (!split) return null;
        const [forward, perTarget] = await Promise.all([
          createSession(this.ort, split.forward, this.threads),
          createSession(this.ort, split.perTarget, this.threads),
        ]);
        return { forward, perTarget, shared: split.shared };
      })();
      s.catch(() => this.sharedSessions.delete(key));
      this.sharedSessions.set(key, s);
    }
    const r = await s;
    return r && { ...r, key, offset };
  }

  private readonly shapeCache = new Map<string, Promise<Map<string, number[]>>>();

  /** Per-row shapes (NCHW, no batch) of every live tensor of the slice's forward list. */
  private shapes(lower: string, upper: string, rowShape: readonly number[]): Promise<Map<string, number[]>> {
    const key = `${lower}\u0000${upper}`;
    let s = this.shapeCache.get(key);
    if (!s) {
      s = (async () => {
        const nchw = rowShape.length === 3 ? [rowShape[2]!, rowShape[0]!, rowShape[1]!] : [...rowShape];
        const { bytes, outputs } = shapeProbeModel(this.g, lower, upper, nchw.length + 1);
        const session = await createSession(this.ort, bytes, 1);
        try {
          const size = nchw.reduce((a, d) => a * d, 1);
          const out = await session.run({
            [X]: new this.ort.Tensor("float32", new Float32Array(size), [1, ...nchw]),
            [CH]: new this.ort.Tensor("int64", BigInt64Array.from([0n]), [1]),
          });
          const shapes = new Map<string, number[]>([[X, nchw]]);
          for (const t of outputs) shapes.set(t, [...out[t]!.dims].slice(1).map(Number));
          return shapes;
        } finally {
          await session.release();
        }
      })();
      this.shapeCache.set(key, s);
    }
    return s;
  }

  /**
   * Releases the activation-pass sessions (each holds the whole network's weights and its working
   * memory): after a pass that will not run again, such as the check of which images the model
   * puts in the class, before the circuit's own pass.
   */
  async releaseActivationSessions(): Promise<void> {
    const all = [...this.activationSessions.values()];
    this.activationSessions.clear();
    await Promise.all(all.map((s) => s.then((x) => x.release()).catch(() => undefined)));
  }

  /** Releases the integrated-gradients sessions of every layer pair but the one whose lower tensor is `lower`. */
  releaseOtherPairs(lower: string): void {
    for (const [key, s] of this.sessions) {
      if (key.startsWith(`${lower}\u0000`)) continue;
      this.sessions.delete(key);
      void s.then((r) => r?.session.release()).catch(() => undefined);
    }
    for (const [key, s] of this.sharedSessions) {
      if (key.startsWith(`${lower}\u0000`)) continue;
      this.sharedSessions.delete(key);
      void s.then((r) => Promise.all([r?.forward.release(), r?.perTarget.release()])).catch(() => undefined);
    }
    for (const [key, c] of this.forwardCache) {
      if (key.startsWith(`${lower}\u0000`)) continue;
      this.forwardCache.delete(key);
      this.forwardCacheBytes -= c.bytes;
    }
  }

  /**
   * Integrated gradients of channel `target` of `upper` w.r.t. the lower maps `x` ([P, ...row],
   * NHWC), as integratedGradients.ts computes them; null when this slice cannot run here.
   */
  async integratedGradients(
    lower: string,
    upper: string,
    target: number,
    x: Float32Array,
    shape: readonly number[],
    rule: QuadratureRule,
    maxRowElements = 1 << 24,
    sharing?: SharingOptions,
  ): Promise<IgResult | null> {
    if (this.closed) throw new Error("the onnxruntime model is closed");
    const rowShape = shape.slice(1);
    if (sharing && sharing.patchIds.length === shape[0]) {
      const shared = await this.sharedIntegratedGradients(
        lower,
        upper,
        target,
        x,
        shape,
        rule,
        maxRowElements,
        sharing,
      );
      if (shared) return shared;
    }
    const r = await this.igSession(lower, upper, target, rowShape);
    if (!r) return null;
    const P = shape[0]!;
    const rowSize = rowShape.reduce((a, b) => a * b, 1);
    const channels = rowShape[rowShape.length - 1]!;
    const N = rule.alphas.length;
    // patches per run: keep the rows' start tensors within the budget (all nodes of a patch together)
    const patchesPerRun = patchesPerIgRun(maxRowElements, rowSize, N);
    const perPatch = new Float32Array(P * channels);
    const embedded = rule.embedded ? new Float32Array(P * channels) : undefined;
    const totals = new Float64Array(P);
    const ch = new this.ort.Tensor("int64", BigInt64Array.from([BigInt(target - r.offset)]), [1]);
    const alpha = new this.ort.Tensor("float32", Float32Array.from(rule.alphas), [N]);
    const w = weightsTensor(this.ort, rule);
    for (let p0 = 0; p0 < P; p0 += patchesPerRun) {
      const pc = Math.min(patchesPerRun, P - p0);
      const xs = new this.ort.Tensor("float32", x.subarray(p0 * rowSize, (p0 + pc) * rowSize), [pc, ...rowShape]);
      const out = await r.session.run({
        [IG_INPUTS.x]: xs,
        [IG_INPUTS.ch]: ch,
        [IG_INPUTS.alpha]: alpha,
        [IG_INPUTS.w]: w,
      });
      perPatch.set(out[IG_OUTPUTS.mean]!.data as Float32Array, p0 * channels);
      embedded?.set(out[IG_OUTPUTS.embedded]!.data as Float32Array, p0 * channels);
      const t = out[IG_OUTPUTS.total]!.data as Float32Array;
      for (let i = 0; i < pc; i++) totals[p0 + i] = t[i]!;
    }
    return { perPatch, channels, totals, ...(embedded ? { embedded } : {}) };
  }

  /**
   * Integrated gradients with the forward work shared between the targets of a pair: the part of
   * the rows that does not depend on the target channel runs once per (patch, node) for the pair —
   * patches in several targets' top sets (most, on trained-like networks) are not run again — and is
   * kept while it fits `budgetBytes`; the per-target model takes it as input. Null where the slice
   * has nothing to share or the cache would not fit (the caller then runs the whole model).
   */
  private async sharedIntegratedGradients(
    lower: string,
    upper: string,
    target: number,
    x: Float32Array,
    shape: readonly number[],
    rule: QuadratureRule,
    maxRowElements: number,
    sharing: SharingOptions,
  ): Promise<IgResult | null> {
    const rowShape = shape.slice(1);
    let r: Awaited<ReturnType<OnnxRuntimeModel["sharedSession"]>>;
    try {
      r = await this.sharedSession(lower, upper, target, rowShape, sharing.minFlopsPerValue);
    } catch (e) {
      if (e instanceof UnsupportedSlice) return null;
      throw e;
    }
    if (!r) return null;
    const N = rule.alphas.length;
    const sizes = r.shared.map((t) => t.shape.reduce((a, d) => a * d, 1));
    const bytesPerPatch = N * r.shared.reduce((a, t, k) => a + sizes[k]! * (t.type === "int64" ? 8 : 4), 0);
    const cacheKey = `${r.key}\u0000${rule.alphas.join(",")}`;
    let cache = this.forwardCache.get(cacheKey);
    const missing = sharing.patchIds.flatMap((p, j) => (cache?.patches.has(p) ? [] : [j]));
    if (this.forwardCacheBytes + missing.length * bytesPerPatch > sharing.budgetBytes) return null;
    if (!cache) {
      cache = { bytes: 0, patches: new Map() };
      this.forwardCache.set(cacheKey, cache);
    }
    const P = shape[0]!;
    const rowSize = rowShape.reduce((a, b) => a * b, 1);
    const channels = rowShape[rowShape.length - 1]!;
    const patchesPerRun = patchesPerIgRun(maxRowElements, rowSize, N);
    const alpha = new this.ort.Tensor("float32", Float32Array.from(rule.alphas), [N]);
    // the shared forward of the patches not seen yet
    for (let i = 0; i < missing.length; i += patchesPerRun) {
      const chunk = missing.slice(i, i + patchesPerRun);
      const xs = new Float32Array(chunk.length * rowSize);
      chunk.forEach((j, k) => xs.set(x.subarray(j * rowSize, (j + 1) * rowSize), k * rowSize));
      const out = await r.forward.run({
        [IG_INPUTS.x]: new this.ort.Tensor("float32", xs, [chunk.length, ...rowShape]),
        [IG_INPUTS.alpha]: alpha,
      });
      chunk.forEach((j, k) => {
        const perTensor = r.shared.map((t, ti) => {
          const data = out[t.name]!.data as Float32Array | BigInt64Array;
          const size = sizes[ti]!;
          const own = t.type === "int64" ? new BigInt64Array(N * size) : new Float32Array(N * size);
          // rows are node-major: row n·chunk + k
          for (let n = 0; n < N; n++)
            (own as Float32Array).set(
              (data as Float32Array).subarray((n * chunk.length + k) * size, (n * chunk.length + k + 1) * size),
              n * size,
            );
          return own;
        });
        cache.patches.set(sharing.patchIds[j]!, perTensor);
      });
      cache.bytes += chunk.length * bytesPerPatch;
      this.forwardCacheBytes += chunk.length * bytesPerPatch;
    }
    // the per-target rest, on the target's own patches
    const perPatch = new Float32Array(P * channels);
    const embedded = rule.embedded ? new Float32Array(P * channels) : undefined;
    const totals = new Float64Array(P);
    const ch = new this.ort.Tensor("int64", BigInt64Array.from([BigInt(target - r.offset)]), [1]);
    const w = weightsTensor(this.ort, rule);
    for (let p0 = 0; p0 < P; p0 += patchesPerRun) {
      const pc = Math.min(patchesPerRun, P - p0);
      const feeds: Record<string, InstanceType<Ort["Tensor"]>> = {
        [IG_INPUTS.x]: new this.ort.Tensor("float32", x.subarray(p0 * rowSize, (p0 + pc) * rowSize), [pc, ...rowShape]),
        [IG_INPUTS.ch]: ch,
        [IG_INPUTS.alpha]: alpha,
        [IG_INPUTS.w]: w,
      };
      r.shared.forEach((t, ti) => {
        const size = sizes[ti]!;
        const rows = t.type === "int64" ? new BigInt64Array(N * pc * size) : new Float32Array(N * pc * size);
        for (let k = 0; k < pc; k++) {
          const own = cache.patches.get(sharing.patchIds[p0 + k]!)![ti]!;
          for (let n = 0; n < N; n++)
            (rows as Float32Array).set((own as Float32Array).subarray(n * size, (n + 1) * size), (n * pc + k) * size);
        }
        feeds[t.name] = new this.ort.Tensor(t.type, rows, [N * pc, ...t.shape]);
      });
      const out = await r.perTarget.run(feeds);
      perPatch.set(out[IG_OUTPUTS.mean]!.data as Float32Array, p0 * channels);
      embedded?.set(out[IG_OUTPUTS.embedded]!.data as Float32Array, p0 * channels);
      const tt = out[IG_OUTPUTS.total]!.data as Float32Array;
      for (let i = 0; i < pc; i++) totals[p0 + i] = tt[i]!;
    }
    return { perPatch, channels, totals, ...(embedded ? { embedded } : {}) };
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.sessions.values()].map((s) => s.then((r) => r?.session.release()).catch(() => undefined));
    for (const s of this.sharedSessions.values())
      all.push(
        s
          .then(async (r) => {
            await Promise.all([r?.forward.release(), r?.perTarget.release()]);
          })
          .catch(() => undefined),
      );
    this.forwardCache.clear();
    this.forwardCacheBytes = 0;
    for (const s of this.activationSessions.values()) all.push(s.then((x) => x.release()).catch(() => undefined));
    await Promise.all(all);
  }
}

/** The IG model's weights input [2, N]: the rule's, then its embedded rule's (zeros where it has none). */
function weightsTensor(ort: Ort, rule: QuadratureRule) {
  const N = rule.alphas.length;
  const w = new Float32Array(2 * N);
  w.set(rule.weights);
  if (rule.embedded) w.set(rule.embedded, N);
  return new ort.Tensor("float32", w, [2, N]);
}

/**
 * Rows (patch × node) an IG run takes at least, whatever the element budget: on large maps the
 * budget alone would give tiny runs (ResNet50's layer4, 7×7×2048 per row: 2 patches, 30 rows at
 * 2^22 elements); 160 keeps there the runs of about 165 rows that the earlier 2^24 budget gave.
 */
export const IG_MIN_ROWS = 160;

/** Patches per IG run: the rows' start tensors within `maxRowElements`, but at least IG_MIN_ROWS rows. */
export function patchesPerIgRun(maxRowElements: number, rowSize: number, nodes: number): number {
  return Math.max(1, Math.floor(maxRowElements / Math.max(1, rowSize * nodes)), Math.ceil(IG_MIN_ROWS / nodes));
}
