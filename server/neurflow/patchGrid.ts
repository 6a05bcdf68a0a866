/**
 * The multi-granularity patch grid (no tensors: the platform checks requests with it). The order is
 * granularity-major, then image, then window row-major (y outer, x inner) — the reference
 * implementation's order.
 */

/** [imageIndex, x, y, size] */
export type Patch = [number, number, number, number];

/** Crop side and stride for one granularity, as the reference computes them. */
export function cropGeometry(
  granularity: number,
  imageSize: number,
  strideRatio: number,
): { size: number; stride: number; perSide: number } {
  const size = Math.trunc(granularity * imageSize);
  if (size < 1 || size > imageSize)
    throw new Error(`granularity ${granularity} gives a crop of ${size} px for ${imageSize} px images`);
  const stride = Math.max(Math.min(Math.trunc(size * strideRatio), imageSize - size), 1);
  const perSide = Math.floor((imageSize - size) / stride) + 1;
  return { size, stride, perSide };
}

export function patchGrid(
  imageCount: number,
  imageSize: number,
  granularities: readonly number[],
  strideRatio: number,
): Patch[] {
  const patches: Patch[] = [];
  for (const g of granularities) {
    const { size, stride, perSide } = cropGeometry(g, imageSize, strideRatio);
    for (let i = 0; i < imageCount; i++) {
      for (let yy = 0; yy < perSide; yy++) {
        for (let xx = 0; xx < perSide; xx++) patches.push([i, xx * stride, yy * stride, size]);
      }
    }
  }
  return patches;
}

/** Patches of one image: Σ over the granularities of perSide². */
export function patchesPerImage(imageSize: number, granularities: readonly number[], strideRatio: number): number {
  return granularities.reduce((a, g) => a + cropGeometry(g, imageSize, strideRatio).perSide ** 2, 0);
}
