/**
 * Convolution gradients for the WebAssembly backend, so that a model can be trained on it.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel (the gradient of a 2-D convolution
 * with respect to its filter), and its `Conv2DBackpropInput` is a plain loop about ten times
 * slower than the forward convolution. Both are rebuilt here from fast kernels the backend has:
 *
 * - filter gradient = a convolution of the padded input, with batch and channels swapped, by the
 *   output gradient as the filter, dilated by the stride;
 * - input gradient = a stride-1 "valid" convolution of the output gradient (dilated with zeros by
 *   the stride, then padded) with the filter flipped in space and its in/out channels swapped.
 *
 * Every intermediate is released before the kernel returns. The functions work on the backend's
 * tensor records (TensorInfo), as the backend's own composite kernels do.
 */
import { tf } from "../neurflow";

interface Info {
  dataId: object;
  shape: number[];
  dtype: string;
}
interface Backend {
  disposeData(dataId: object, force?: boolean): boolean;
}
type Attrs = Record<string, unknown>;

function kernel(name: string) {
  const k = tf.getKernel(name, "wasm");
  if (!k) throw new Error(`the wasm backend has no ${name} kernel`);
  return k.kernelFunc;
}

function call(backend: Backend, name: string, inputs: Record<string, Info | Info[]>, attrs: Attrs): Info {
  const f = kernel(name) as unknown as (a: { inputs: unknown; backend: unknown; attrs: unknown }) => Info;
  return f({ inputs, backend, attrs });
}

/** A view of `t` with another shape (same data; valid for contiguous reshapes only). */
function view(t: Info, shape: number[]): Info {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

interface ConvGeometry {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ho: number;
  wo: number;
  top: number;
  left: number;
}

function geometry(
  xShape: number[],
  filterShape: [number, number, number, number],
  strides: unknown,
  pad: unknown,
  dataFormat: unknown,
  dimRoundingMode: unknown,
): ConvGeometry {
  if (dataFormat !== undefined && dataFormat !== "NHWC")
    throw new Error(`conv gradient on wasm: NHWC only, got ${String(dataFormat)}`);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape,
    strides as number | [number, number],
    1,
    pad as "same" | "valid" | number,
    dimRoundingMode as "floor" | "round" | "ceil" | undefined,
  );
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    ci: info.inChannels,
    co: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    ho: info.outHeight,
    wo: info.outWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

function backpropFilter({
  inputs,
  backend,
  attrs,
}: {
  inputs: Record<string, Info>;
  backend: Backend;
  attrs: Attrs;
}): Info {
  const x = inputs.x!;
  const dy = inputs.dy!;
  const filterShape = attrs.filterShape as [number, number, number, number];
  const g = geometry(x.shape, filterShape, attrs.strides, attrs.pad, attrs.dataFormat, attrs.dimRoundingMode);
  const bottom = Math.max(0, (g.ho - 1) * g.sh + g.kh - g.h - g.top);
  const right = Math.max(0, (g.wo - 1) * g.sw + g.kw - g.w - g.left);
  const temps: Info[] = [];
  let xp = x;
  if (g.top || bottom || g.left || right) {
    xp = call(
      backend,
      "PadV2",
      { x },
      {
        paddings: [
          [0, 0],
          [g.top, bottom],
          [g.left, right],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    temps.push(xp);
  }
  const hp = g.h + g.top + bottom;
  const wp = g.w + g.left + right;
  // dW[a,b,ci,co] = Σ_{n,y,x} xp[n, a + y·sh, b + x·sw, ci] · dy[n,y,x,co]: a convolution of the
  // input (channels as batch, batch as channels) by the output gradient, dilated by the stride.
  const xt = call(backend, "Transpose", { x: xp }, { perm: [3, 1, 2, 0] }); // [Ci, Hp, Wp, N]
  temps.push(xt);
  const gt = call(backend, "Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
  temps.push(gt);
  let out = call(
    backend,
    "Conv2D",
    { x: xt, filter: gt },
    {
      strides: [1, 1],
      pad: "valid",
      dataFormat: "NHWC",
      dilations: [g.sh, g.sw],
      dimRoundingMode: undefined,
    },
  ); // [Ci, Hp - (Ho-1)·sh, Wp - (Wo-1)·sw, Co]
  temps.push(out);
  if (hp - (g.ho - 1) * g.sh !== g.kh || wp - (g.wo - 1) * g.sw !== g.kw) {
    out = call(backend, "Slice", { x: out }, { begin: [0, 0, 0, 0], size: [g.ci, g.kh, g.kw, g.co] });
    temps.push(out);
  }
  const dw = call(backend, "Transpose", { x: out }, { perm: [1, 2, 0, 3] });
  for (const t of temps) backend.disposeData(t.dataId);
  return dw;
}

function backpropInput({
  inputs,
  backend,
  attrs,
}: {
  inputs: Record<string, Info>;
  backend: Backend;
  attrs: Attrs;
}): Info {
  const dy = inputs.dy!;
  const filter = inputs.filter!;
  const inputShape = attrs.inputShape as number[];
  const filterShape = filter.shape as [number, number, number, number];
  const g = geometry(inputShape, filterShape, attrs.strides, attrs.pad, attrs.dataFormat, attrs.dimRoundingMode);
  const padTop = g.kh - 1 - g.top;
  const padLeft = g.kw - 1 - g.left;
  const padBottom = g.h + g.top - g.ho * g.sh;
  const padRight = g.w + g.left - g.wo * g.sw;
  if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
    return call(backend, "Conv2DBackpropInputNative", { dy, filter }, attrs);
  }
  const temps: Info[] = [];
  let d = dy;
  if (g.sh > 1 || g.sw > 1) {
    // zeros between the rows and columns: [N·Ho, 1, Wo, 1, C] → [N·Ho, sh, Wo, sw, C]
    d = call(
      backend,
      "PadV2",
      { x: view(dy, [g.n * g.ho, 1, g.wo, 1, g.co]) },
      {
        paddings: [
          [0, 0],
          [0, g.sh - 1],
          [0, 0],
          [0, g.sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    temps.push(d);
    d = view(d, [g.n, g.ho * g.sh, g.wo * g.sw, g.co]);
  }
  if (padTop || padBottom || padLeft || padRight) {
    d = call(
      backend,
      "PadV2",
      { x: d },
      {
        paddings: [
          [0, 0],
          [padTop, padBottom],
          [padLeft, padRight],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    temps.push(d);
  }
  const flipped = call(backend, "Reverse", { x: filter }, { dims: [0, 1] });
  temps.push(flipped);
  const swapped = call(backend, "Transpose", { x: flipped }, { perm: [0, 1, 3, 2] });
  temps.push(swapped);
  const dx = call(
    backend,
    "Conv2D",
    { x: d, filter: swapped },
    {
      strides: [1, 1],
      pad: "valid",
      dataFormat: "NHWC",
      dilations: [1, 1],
      dimRoundingMode: undefined,
    },
  );
  for (const t of temps) backend.disposeData(t.dataId);
  return dx;
}

let registered = false;

/**
 * Registers the convolution gradients for the "wasm" backend (idempotent). Affects only that
 * backend; the forward pass is untouched.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  const native = tf.getKernel("Conv2DBackpropInput", "wasm");
  if (native) {
    tf.registerKernel({ ...native, kernelName: "Conv2DBackpropInputNative" });
    tf.unregisterKernel("Conv2DBackpropInput", "wasm");
  }
  tf.registerKernel({
    kernelName: "Conv2DBackpropInput",
    backendName: "wasm",
    kernelFunc: backpropInput as unknown as tf.KernelFunc,
  });
  if (tf.getKernel("Conv2DBackpropFilter", "wasm")) tf.unregisterKernel("Conv2DBackpropFilter", "wasm");
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: backpropFilter as unknown as tf.KernelFunc,
  });
}
