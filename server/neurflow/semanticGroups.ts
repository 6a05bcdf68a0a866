/**
 * Semantic groups of a (possibly polysemantic) target neuron: its top patches clustered by their
 * lower-layer representations (spatial mean of every lower channel) with agglomerative Ward
 * clustering; the count is the one in 2..min(n−1, maxGroups) with the best silhouette score.
 */
import { selectClusterCount } from "./clustering";

export function semanticGroups(lowerVectors: readonly Float32Array[], maxGroups: number): number[] {
  if (lowerVectors.length < 2) return lowerVectors.map(() => 0);
  return [...selectClusterCount(lowerVectors, maxGroups).labels];
}
