/**
 * ONNX ops on host tensors (ONNX layout, plain JavaScript): what constant folding and the shape
 * arithmetic of exports (Shape → Gather → Unsqueeze → Concat → Reshape) need. Also the shape
 * rules (Reshape's 0/-1, Slice's clamping) that the device implementations share.
 */
import { hostTensor, sizeOf, stridesOf, type HostDType, type HostTensor } from "./hostTensor";
import { normAxis } from "./value";

function make(dtype: HostDType, dims: readonly number[], data: ArrayLike<number>): HostTensor {
  return hostTensor(dtype, dims, data);
}

/** Numpy-style broadcast shape (ONNX multidirectional broadcasting). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`shapes [${a.join(",")}] and [${b.join(",")}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

export function binary(
  a: HostTensor,
  b: HostTensor,
  fn: (x: number, y: number) => number,
  outType?: HostDType,
): HostTensor {
  const dims = broadcastShape(a.dims, b.dims);
  const n = sizeOf(dims);
  const st = stridesOf(dims);
  const pa = padDims(a.dims, dims.length);
  const pb = padDims(b.dims, dims.length);
  const sa = stridesOf(pa);
  const sb = stridesOf(pb);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let ia = 0;
    let ib = 0;
    let rem = i;
    for (let d = 0; d < dims.length; d++) {
      const c = Math.floor(rem / st[d]!);
      rem -= c * st[d]!;
      if (pa[d] !== 1) ia += c * sa[d]!;
      if (pb[d] !== 1) ib += c * sb[d]!;
    }
    out[i] = fn(a.data[ia]!, b.data[ib]!);
  }
  const dtype = outType ?? (a.dtype === "float32" || b.dtype === "float32" ? "float32" : a.dtype);
  return make(dtype, dims, out);
}

function padDims(d: readonly number[], n: number): number[] {
  const r = [...d];
  while (r.length < n) r.unshift(1);
  return r;
}

export function divide(a: HostTensor, b: HostTensor): HostTensor {
  if (a.dtype === "int64" && b.dtype === "int64") return binary(a, b, (x, y) => Math.trunc(x / y));
  return binary(a, b, (x, y) => x / y);
}

export function cast(t: HostTensor, to: HostDType): HostTensor {
  if (to === t.dtype) return t;
  const v = Array.from(t.data, (x) => (to === "int64" ? Math.trunc(x) : to === "bool" ? (x ? 1 : 0) : x));
  return make(to, t.dims, v);
}

export function transpose(t: HostTensor, perm: readonly number[]): HostTensor {
  const dims = perm.map((p) => t.dims[p]!);
  const st = stridesOf(t.dims);
  const ost = stridesOf(dims);
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) {
    let rem = i;
    let src = 0;
    for (let d = 0; d < dims.length; d++) {
      const c = Math.floor(rem / ost[d]!);
      rem -= c * ost[d]!;
      src += c * st[perm[d]!]!;
    }
    out[i] = t.data[src]!;
  }
  return make(t.dtype, dims, out);
}

export function gather(data: HostTensor, indices: HostTensor, axisIn: number): HostTensor {
  const r = data.dims.length;
  const axis = normAxis(axisIn, r, "Gather");
  const n = data.dims[axis]!;
  const outer = sizeOf(data.dims.slice(0, axis));
  const inner = sizeOf(data.dims.slice(axis + 1));
  const idx = Array.from(indices.data, (i) => {
    const j = i < 0 ? i + n : i;
    if (j < 0 || j >= n) throw new Error(`Gather: index ${i} out of range for a dimension of ${n}`);
    return j;
  });
  const out: number[] = [];
  for (let o = 0; o < outer; o++)
    for (const j of idx) for (let k = 0; k < inner; k++) out.push(data.data[(o * n + j) * inner + k]!);
  const dims = [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)];
  return make(data.dtype, dims, out);
}

export function unsqueezeDims(dims: readonly number[], axes: readonly number[]): number[] {
  const rank = dims.length + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, rank, "Unsqueeze")));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : dims[k++]!);
  return out;
}

export function squeezeDims(dims: readonly number[], axes: readonly number[] | undefined): number[] {
  if (!axes || axes.length === 0) return dims.filter((d) => d !== 1);
  const norm = new Set(axes.map((a) => normAxis(a, dims.length, "Squeeze")));
  for (const a of norm) if (dims[a] !== 1) throw new Error(`Squeeze: dimension ${a} has size ${dims[a]}, not 1`);
  return dims.filter((_, i) => !norm.has(i));
}

export function withDims(t: HostTensor, dims: readonly number[]): HostTensor {
  if (sizeOf(dims) !== t.data.length) throw new Error(`cannot reshape [${t.dims.join(",")}] to [${dims.join(",")}]`);
  return { kind: "host", dtype: t.dtype, dims: [...dims], data: t.data };
}

/** Reshape's target shape: 0 copies the input dimension (unless allowzero), -1 is inferred. */
export function reshapeDims(input: readonly number[], shape: readonly number[], allowzero: boolean): number[] {
  const out = shape.map((s, i) => (s === 0 && !allowzero ? input[i]! : s));
  const total = sizeOf(input);
  const minus = out.indexOf(-1);
  if (minus >= 0) {
    if (out.indexOf(-1, minus + 1) >= 0) throw new Error(`Reshape: more than one -1 in [${shape.join(",")}]`);
    const known = sizeOf(out.filter((_, i) => i !== minus));
    if (known === 0 || total % known !== 0)
      throw new Error(`Reshape: cannot reshape [${input.join(",")}] to [${shape.join(",")}]`);
    out[minus] = total / known;
  }
  if (sizeOf(out) !== total) throw new Error(`Reshape: cannot reshape [${input.join(",")}] to [${shape.join(",")}]`);
  return out;
}

export function concat(ts: HostTensor[], axisIn: number): HostTensor {
  const first = ts[0]!;
  const r = first.dims.length;
  const axis = normAxis(axisIn, r, "Concat");
  const outer = sizeOf(first.dims.slice(0, axis));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const chunk = sizeOf(t.dims.slice(axis));
      for (let k = 0; k < chunk; k++) out.push(t.data[o * chunk + k]!);
    }
  }
  const dims = [...first.dims];
  dims[axis] = ts.reduce((s, t) => s + t.dims[axis]!, 0);
  const dtype = ts.some((t) => t.dtype === "float32") ? "float32" : first.dtype;
  return make(dtype, dims, out);
}

export interface SliceRange {
  axis: number;
  start: number;
  end: number;
  step: number;
  /** Number of elements taken. */
  count: number;
}

/** Slice's clamped ranges, one per sliced axis. */
export function sliceRanges(
  dims: readonly number[],
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[] | undefined,
  steps: readonly number[] | undefined,
): SliceRange[] {
  const ax = axes ?? starts.map((_, i) => i);
  return ax.map((a0, i) => {
    const axis = normAxis(a0, dims.length, "Slice");
    const n = dims[axis]!;
    const step = steps?.[i] ?? 1;
    if (step === 0) throw new Error("Slice: step 0");
    let s = starts[i]!;
    let e = ends[i]!;
    if (s < 0) s += n;
    if (e < 0) e += n;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), n);
      e = Math.min(Math.max(e, 0), n);
    } else {
      s = Math.min(Math.max(s, 0), n - 1);
      e = Math.min(Math.max(e, -1), n - 1);
    }
    const count = step > 0 ? Math.max(0, Math.ceil((e - s) / step)) : Math.max(0, Math.ceil((s - e) / -step));
    return { axis, start: s, end: e, step, count };
  });
}

export function slice(t: HostTensor, ranges: readonly SliceRange[]): HostTensor {
  const dims = [...t.dims];
  const start = dims.map(() => 0);
  const step = dims.map(() => 1);
  for (const r of ranges) {
    dims[r.axis] = r.count;
    start[r.axis] = r.start;
    step[r.axis] = r.step;
  }
  const st = stridesOf(t.dims);
  const ost = stridesOf(dims);
  const n = sizeOf(dims);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let src = 0;
    for (let d = 0; d < dims.length; d++) {
      const c = Math.floor(rem / ost[d]!);
      rem -= c * ost[d]!;
      src += (start[d]! + c * step[d]!) * st[d]!;
    }
    out[i] = t.data[src]!;
  }
  return make(t.dtype, dims, out);
}

export function unary(t: HostTensor, fn: (x: number) => number): HostTensor {
  return make(t.dtype, t.dims, Array.from(t.data, fn));
}
