/**
 * 2-D convolution in NHWC with ONNX's semantics (explicit, possibly asymmetric pads; strides;
 * dilations; groups), built once from an ONNX OIHW weight.
 *
 * Gradients with respect to the input always come from a tf.customGrad that expresses the input
 * gradient with forward ops. tfjs has no gradient for dilation > 1, wasm has no
 * DepthwiseConv2dNativeBackpropInput, and wasm's Conv2DBackpropInput runs at about a ninth of the
 * speed of its forward convolution (0.6 vs 5.6 GFLOP/s on a 3×3, 64-channel layer, identical
 * results) — so every convolution takes this path: the output gradient is dilated by the stride (zeros inserted), then correlated
 * with the spatially flipped kernel (channels transposed) at the same dilation, padded so the
 * result has the input's size. Weight gradients are not computed there.
 */
import { tf } from "../../tf";
import type { HostTensor } from "./hostTensor";
import { dilate, subsample } from "./strided";

export type Pair = [number, number];
/** [top, left, bottom, right] */
export type Pads4 = [number, number, number, number];

export type AutoPad = "NOTSET" | "VALID" | "SAME_UPPER" | "SAME_LOWER";

export interface ConvGeometry {
  kernel: Pair;
  strides: Pair;
  dilations: Pair;
  pads: Pads4;
  autoPad: AutoPad;
}

/** The explicit pads [top, left, bottom, right] for an input of size h × w. */
export function resolvePads(g: ConvGeometry, h: number, w: number): Pads4 {
  if (g.autoPad === "NOTSET") return g.pads;
  if (g.autoPad === "VALID") return [0, 0, 0, 0];
  const one = (size: number, k: number, s: number, d: number): Pair => {
    const out = Math.ceil(size / s);
    const total = Math.max(0, (out - 1) * s + (k - 1) * d + 1 - size);
    const small = Math.floor(total / 2);
    return g.autoPad === "SAME_UPPER" ? [small, total - small] : [total - small, small];
  };
  const [t, b] = one(h, g.kernel[0], g.strides[0], g.dilations[0]);
  const [l, r] = one(w, g.kernel[1], g.strides[1], g.dilations[1]);
  return [t, l, b, r];
}

type Explicit = [[number, number], [number, number], [number, number], [number, number]];

function explicit(p: Pads4): Explicit {
  return [
    [0, 0],
    [p[0], p[2]],
    [p[1], p[3]],
    [0, 0],
  ];
}

function outSize(size: number, k: number, s: number, d: number, p0: number, p1: number): number {
  return Math.floor((size + p0 + p1 - d * (k - 1) - 1) / s) + 1;
}

type Kind = "dense" | "depthwise";

function forwardRaw(kind: Kind, x: tf.Tensor4D, f: tf.Tensor4D, g: ConvGeometry, pads: Pads4): tf.Tensor4D {
  const { strides: s, dilations: d } = g;
  const stride1 = s[0] === 1 && s[1] === 1;
  const dil1 = d[0] === 1 && d[1] === 1;
  const conv = (st: Pair) =>
    kind === "dense"
      ? tf.conv2d(x, f, st, explicit(pads), "NHWC", d)
      : tf.depthwiseConv2d(x, f, st, explicit(pads), "NHWC", d);
  if (stride1 || dil1) return conv(s);
  // tfjs takes either strides or dilations > 1, not both: convolve densely, then subsample.
  const full = conv([1, 1]);
  const [, h, w] = x.shape;
  const oh = outSize(h, g.kernel[0], s[0], d[0], pads[0], pads[2]);
  const ow = outSize(w, g.kernel[1], s[1], d[1], pads[1], pads[3]);
  return subsample(full, s, oh, ow);
}

/**
 * The input gradient: dx = correlate(dilate(dy, stride), flip(kernel)ᵀ, dilation) with pads that
 * give the input's size (cropping where a pad would be negative).
 */
function inputGradient(
  kind: Kind,
  dy: tf.Tensor4D,
  gradKernel: tf.Tensor4D,
  multiplier: number,
  g: ConvGeometry,
  pads: Pads4,
  xShape: [number, number, number, number],
): tf.Tensor4D {
  const { strides: s, dilations: d, kernel: k } = g;
  const [, h, w, cin] = xShape;
  const dd = dilate(dy, s);
  const L: Pair = [dd.shape[1], dd.shape[2]];
  const axis = (i: 0 | 1, size: number, pBegin: number) => {
    const ext = d[i] * (k[i] - 1);
    const front = ext - pBegin;
    const end = size - L[i] - front + ext;
    return { front, end };
  };
  const A = axis(0, h, pads[0]);
  const B = axis(1, w, pads[1]);
  const p: Explicit = [
    [0, 0],
    [Math.max(0, A.front), Math.max(0, A.end)],
    [Math.max(0, B.front), Math.max(0, B.end)],
    [0, 0],
  ];
  let r: tf.Tensor4D =
    kind === "dense" ? tf.conv2d(dd, gradKernel, 1, p, "NHWC", d) : tf.depthwiseConv2d(dd, gradKernel, 1, p, "NHWC", d);
  if (A.front < 0 || B.front < 0 || r.shape[1] !== h || r.shape[2] !== w) {
    r = tf.slice(r, [0, Math.max(0, -A.front), Math.max(0, -B.front), 0], [-1, h, w, -1]);
  }
  if (kind === "depthwise" && multiplier > 1) {
    const [n] = r.shape;
    r = tf.sum(tf.reshape(r, [n, h, w, cin, multiplier]), 4);
  }
  return r;
}

export interface Conv2d {
  apply(x: tf.Tensor4D): tf.Tensor4D;
  /** The tensors it owns (to dispose with the model). */
  weights: tf.Tensor[];
}

/**
 * The phase kernels of a strided dense convolution's input gradient. With stride s (dilation 1),
 * input row p = s·P + r − padTop receives exactly the kernel taps u ≡ r (mod s): for each phase
 * (ry, rx) the gradient is a stride-1 correlation of dy with the sub-kernel w[ry::s, rx::s],
 * flipped and transposed. The s² results interleave into the gradient — the same
 * FLOPs as the forward convolution, where dilating dy with zeros would cost s² times more.
 * Null entries: phases no tap falls in (kernel smaller than the stride).
 */
function phaseKernels(filter: tf.Tensor4D, s: Pair): (tf.Tensor4D | null)[] {
  const [kh, kw] = filter.shape;
  const out: (tf.Tensor4D | null)[] = [];
  for (let ry = 0; ry < s[0]; ry++) {
    for (let rx = 0; rx < s[1]; rx++) {
      const rows = Array.from({ length: Math.max(0, Math.ceil((kh - ry) / s[0])) }, (_, m) => ry + s[0] * m);
      const cols = Array.from({ length: Math.max(0, Math.ceil((kw - rx) / s[1])) }, (_, n) => rx + s[1] * n);
      if (!rows.length || !cols.length) {
        out.push(null);
        continue;
      }
      out.push(
        tf.tidy(() => {
          const sub = tf.gather(tf.gather(filter, rows, 0), cols, 1);
          return tf.keep(tf.transpose(tf.reverse(sub, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D);
        }),
      );
    }
  }
  return out;
}

function phaseInputGradient(
  dy: tf.Tensor4D,
  kernels: readonly (tf.Tensor4D | null)[],
  s: Pair,
  pads: Pads4,
  xShape: [number, number, number, number],
): tf.Tensor4D {
  const [n, h, w, cin] = xShape;
  const [, hy, wy] = dy.shape;
  const hz = Math.floor((h - 1 + pads[0]) / s[0]) + 1;
  const wz = Math.floor((w - 1 + pads[1]) / s[1]) + 1;
  const placed: tf.Tensor4D[] = [];
  kernels.forEach((k, phase) => {
    if (!k) return;
    const ry = Math.floor(phase / s[1]);
    const rx = phase % s[1];
    const [mh, mw] = k.shape;
    // Z[P] = Σ_m dy[P − m] · w[r + s·m]: pad mh−1 in front, enough behind for hz outputs
    let z = tf.conv2d(
      dy,
      k,
      1,
      [
        [0, 0],
        [mh - 1, Math.max(0, hz - hy)],
        [mw - 1, Math.max(0, wz - wy)],
        [0, 0],
      ],
      "NHWC",
    );
    if (z.shape[1] !== hz || z.shape[2] !== wz) z = tf.slice(z, [0, 0, 0, 0], [-1, hz, wz, -1]);
    // place Z at rows s·P + ry, columns s·Q + rx: zeros around each element, by pads on rank-4
    // views (cheap native pads; depthToSpace and concat are slow on wasm)
    const rows = tf.pad(tf.reshape(z, [n, hz, 1, wz * cin]), [
      [0, 0],
      [0, 0],
      [ry, s[0] - 1 - ry],
      [0, 0],
    ]);
    const cols = tf.pad(tf.reshape(rows, [n * hz * s[0], wz, 1, cin]), [
      [0, 0],
      [0, 0],
      [rx, s[1] - 1 - rx],
      [0, 0],
    ]);
    placed.push(tf.reshape(cols, [n, hz * s[0], wz * s[1], cin]));
  });
  const full = placed.length === 1 ? placed[0]! : (tf.addN(placed) as tf.Tensor4D);
  return tf.slice(full, [0, pads[0], pads[1], 0], [-1, h, w, -1]);
}

/** One group-free convolution (dense or depthwise) with its gradient strategy. */
/**
 * `own` receives the tensors the input gradient needs (the flipped, transposed kernel; a strided
 * convolution's phase kernels) when a gradient first asks for them, to free them with the model: a
 * model whose gradients run elsewhere (on onnxruntime) never holds them.
 */
function makeCore(kind: Kind, filter: tf.Tensor4D, g: ConvGeometry, own: (t: tf.Tensor) => void): Conv2d {
  const weights: tf.Tensor[] = [filter];
  const strided = g.strides[0] > 1 || g.strides[1] > 1;
  const usePhases =
    kind === "dense" && strided && g.strides[0] === g.strides[1] && g.dilations[0] === 1 && g.dilations[1] === 1;
  const multiplier = kind === "depthwise" ? filter.shape[3] : 1;
  let gradient: { kernel: tf.Tensor4D; phases: (tf.Tensor4D | null)[] } | null = null;
  const gradientKernels = () => {
    if (!gradient) {
      const phases = usePhases ? phaseKernels(filter, g.strides) : [];
      const kernel = tf.keep(
        tf.tidy(() => {
          const flipped = tf.reverse(filter, [0, 1]);
          if (kind === "dense") return tf.transpose(flipped, [0, 1, 3, 2]);
          const [kh, kw, c, m] = filter.shape;
          return tf.reshape(flipped, [kh, kw, c * m, 1]);
        }) as tf.Tensor4D,
      );
      for (const k of phases) if (k) own(k);
      own(kernel);
      gradient = { kernel, phases };
    }
    return gradient;
  };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor4D;
    const pads = resolvePads(g, x.shape[1], x.shape[2]);
    const shape = x.shape;
    return {
      value: forwardRaw(kind, x, filter, g, pads),
      gradFunc: (dy: tf.Tensor) => {
        const k = gradientKernels();
        return usePhases
          ? phaseInputGradient(dy as tf.Tensor4D, k.phases, g.strides, pads, shape)
          : inputGradient(kind, dy as tf.Tensor4D, k.kernel, multiplier, g, pads, shape);
      },
    };
  });
  return { weights, apply: (x) => op(x) as tf.Tensor4D };
}

/**
 * Forward-only dense convolution of NHWC `x` by an HWIO filter, with the geometry's padding; no
 * gradient machinery (for computations that are never differentiated, e.g. knockout partials).
 */
export function convolveForward(x: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return forwardRaw("dense", x, filter, g, resolvePads(g, x.shape[1], x.shape[2]));
}

/**
 * A dense (filter HWIO) or depthwise (filter [kh, kw, C, multiplier]) NHWC convolution whose input
 * gradient works on every backend and never computes a filter gradient. `weights` holds the
 * filter and any derived tensor this function created.
 */
/**
 * The contribution of some input channels to a dense convolution (bias excluded), for knockouts:
 * the filter sliced to those channels is kept for the last set asked, because a knockout asks for
 * the same set once per chunk of patches (slicing the filter again each time cost more than the
 * convolution on wasm). `keep` receives each sliced filter so that the graph frees it on dispose.
 */
export function channelContribution(filter: () => tf.Tensor4D, g: ConvGeometry, keep: (t: tf.Tensor4D) => void) {
  let last: { key: string; filter: tf.Tensor4D } | null = null;
  return (xS: tf.Tensor, channels: readonly number[]): tf.Tensor => {
    const key = channels.join(",");
    if (!last || last.key !== key) {
      last?.filter.dispose();
      const picked = tf.keep(tf.gather(filter(), [...channels], 2) as tf.Tensor4D);
      keep(picked);
      last = { key, filter: picked };
    }
    return convolveForward(xS as tf.Tensor4D, last.filter, g);
  };
}

export function convolution(
  kind: "dense" | "depthwise",
  filter: tf.Tensor4D,
  g: ConvGeometry,
  own: (t: tf.Tensor) => void,
): Conv2d {
  return makeCore(kind, filter, g, own);
}

/**
 * Builds an ONNX Conv: `weight` is OIHW [Cout, Cin/group, kh, kw]; `bias` [Cout] or undefined.
 */
export function makeConv2d(
  weight: HostTensor,
  bias: HostTensor | undefined,
  group: number,
  g: ConvGeometry,
  own: (t: tf.Tensor) => void,
): Conv2d {
  const [cout, cinPerGroup, kh, kw] = weight.dims as [number, number, number, number];
  if (cout % group !== 0) throw new Error(`output channels ${cout} are not divisible by group ${group}`);
  const w = weight.data as Float32Array;
  const cores: Conv2d[] = [];
  let depthwise = false;
  if (group > 1 && cinPerGroup === 1) {
    // depthwise: filter [kh, kw, Cin, multiplier]; output channel c·m + q ← W[c·m + q]
    depthwise = true;
    const m = cout / group;
    const f = new Float32Array(kh * kw * cout);
    for (let o = 0; o < cout; o++)
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) f[(i * kw + j) * cout + o] = w[(o * kh + i) * kw + j]!;
    cores.push(makeCore("depthwise", tf.keep(tf.tensor4d(f, [kh, kw, group, m])), g, own));
  } else {
    const coutG = cout / group;
    for (let gi = 0; gi < group; gi++) {
      // HWIO
      const f = new Float32Array(kh * kw * cinPerGroup * coutG);
      for (let o = 0; o < coutG; o++)
        for (let c = 0; c < cinPerGroup; c++)
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++)
              f[((i * kw + j) * cinPerGroup + c) * coutG + o] =
                w[(((gi * coutG + o) * cinPerGroup + c) * kh + i) * kw + j]!;
      cores.push(makeCore("dense", tf.keep(tf.tensor4d(f, [kh, kw, cinPerGroup, coutG])), g, own));
    }
  }
  const b = bias ? tf.keep(tf.tensor1d(bias.data as Float32Array, "float32")) : undefined;
  const weights = [...cores.flatMap((c) => c.weights), ...(b ? [b] : [])];
  const apply = (x: tf.Tensor4D): tf.Tensor4D => {
    const cin = x.shape[3];
    if (cin !== cinPerGroup * group) {
      throw new Error(
        `expects ${cinPerGroup * group} input channels, got ${cin} (input shape [${x.shape.join(",")}] NHWC)`,
      );
    }
    let y: tf.Tensor4D;
    if (depthwise || group === 1) y = cores[0]!.apply(x);
    else {
      const parts = tf.split(x, group, 3);
      y = tf.concat(
        parts.map((p, i) => cores[i]!.apply(p as tf.Tensor4D)),
        3,
      );
    }
    return b ? tf.add(y, b) : y;
  };
  return { weights, apply };
}
