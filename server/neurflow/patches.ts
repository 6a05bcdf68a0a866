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
