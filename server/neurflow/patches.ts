/**
 * Multi-granularity patches. A patch is (image, x, y, size): a square crop of the (normalised)
 * image, resized back to the model's input size with bilinear interpolation (half-pixel centres,
 * no antialiasing). The order is granularity-major, then image, then window row-major (y outer,
 * x inner) — the reference implementation's order. A whole image (size = input size) is used as is.
 */
import type { Patch } from "./patchGrid";
import { tf } from "./tf";

export { cropGeometry, patchGrid, patchesPerImage, type Patch } from "./patchGrid";

/**
 * Materialises the given patches as one NHWC batch [n, S, S, 3] from normalised images
 * [N, S, S, 3]. Crops of equal size are resized together.
 */
export function materializePatches(
  images: tf.Tensor4D,
  patches: readonly Patch[],
  indices: readonly number[],
): tf.Tensor4D {
  const S = images.shape[1];
  return tf.tidy(() => {
    const out: tf.Tensor4D[] = new Array(indices.length);
    const bySize = new Map<number, number[]>();
    indices.forEach((pi, pos) => {
      const p = patches[pi];
      if (!p) throw new Error(`patch ${pi} does not exist`);
      const list = bySize.get(p[3]) ?? [];
      list.push(pos);
      bySize.set(p[3], list);
    });
    for (const [size, positions] of bySize) {
      const crops = positions.map((pos) => {
        const [img, x, y] = patches[indices[pos]!]!;
        return tf.slice(images, [img, y, x, 0], [1, size, size, 3]);
      });
      const batch = tf.concat(crops, 0) as tf.Tensor4D;
      const resized = size === S ? batch : tf.image.resizeBilinear(batch, [S, S], false, true);
      // one crop size (most batches: patches are granularity-major): already in order
      if (bySize.size === 1) return resized;
      const parts = tf.split(resized, positions.length, 0) as tf.Tensor4D[];
      positions.forEach((pos, j) => (out[pos] = parts[j]!));
    }
    return tf.concat(out, 0) as tf.Tensor4D;
  });
}

/**
 * The same patches as materializePatches, computed here from the images' values ([N, S, S, 3],
 * NHWC, read once): crops and bilinear resizing with the arithmetic of TensorFlow.js's wasm kernel
 * (XNNPACK's: float32, half-pixel centres), so the values are the same bit for bit (tested). For the onnxruntime path,
 * whose input is host memory anyway: one TensorFlow.js slice per patch costs more in dispatch than
 * the interpolation itself (0.5 s of the toy world's 1000 patches).
 */
export function patchPixels(
  images: Float32Array,
  S: number,
  patches: readonly Patch[],
  indices: readonly number[],
): Float32Array {
  const f = Math.fround;
  const imageSize = S * S * 3;
  const out = new Float32Array(indices.length * imageSize);
  const src0 = new Int32Array(S);
  const src1 = new Int32Array(S);
  const frac = new Float32Array(S);
  let lastSize = -1;
  indices.forEach((pi, k) => {
    const p = patches[pi];
    if (!p) throw new Error(`patch ${pi} does not exist`);
    const [img, x0, y0, size] = p;
    if (img < 0 || (img + 1) * imageSize > images.length || x0 < 0 || y0 < 0 || x0 + size > S || y0 + size > S)
      throw new Error(`patch ${pi} lies outside the images`);
    const base = img * imageSize;
    const o = k * imageSize;
    if (size === S) {
      out.set(images.subarray(base, base + imageSize), o);
      return;
    }
    if (size !== lastSize) {
      // source rows/columns and weights along one axis (the same for both: square crops), as the
      // kernel's indirection: s = i·scale + (scale/2 − 1/2) in float32, clamped to the crop
      const scale = f(size / S);
      const offset = f(f(0.5 * scale) - 0.5);
      for (let i = 0; i < S; i++) {
        const s = Math.min(Math.max(f(f(i * scale) + offset), 0), size - 1);
        const lo = Math.trunc(s);
        src0[i] = lo;
        src1[i] = Math.min(lo + 1, size - 1);
        frac[i] = f(s - lo);
      }
      lastSize = size;
    }
    for (let r = 0; r < S; r++) {
      const top = base + ((y0 + src0[r]!) * S + x0) * 3;
      const bot = base + ((y0 + src1[r]!) * S + x0) * 3;
      const rf = frac[r]!;
      let at = o + r * S * 3;
      for (let c = 0; c < S; c++) {
        const l = src0[c]! * 3;
        const rr = src1[c]! * 3;
        const cf = frac[c]!;
        for (let d = 0; d < 3; d++) {
          const tl = images[top + l + d]!;
          const tr = images[top + rr + d]!;
          const bl = images[bot + l + d]!;
          const br = images[bot + rr + d]!;
          const t = f(tl + f(f(tr - tl) * cf));
          const b = f(bl + f(f(br - bl) * cf));
          out[at++] = f(t + f(f(b - t) * rf));
        }
      }
    }
  });
  return out;
}
