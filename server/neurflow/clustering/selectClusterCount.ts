/**
 * Choice of the number of clusters, following the NeurFlow reference code:
 *
 *   maxK = min(n_samples - 1, maxClusters)
 *   if maxK <= 2: k = 2 (nothing is scored)
 *   else: for k in 2..maxK, labels_k = Ward clustering into k clusters,
 *         score_k = silhouette_score(X, labels_k);
 *         k = the first k with the strictly highest score (best starts at -1).
 *
 * The Ward tree is built once and cut at every k (sklearn refits, which gives
 * the same tree each time). Ties between scores go to the smaller k.
 */
import { cutTree } from "./cutTree";
import {
  silhouetteDistancesFromSquared,
  silhouetteScoreFromDistances,
  isFloat32Rows,
  type SilhouettePrecision,
} from "./silhouette";
import { pdistSquaredEuclidean, wardLinkageFromDistances, type Linkage, type Rows } from "./ward";

export interface ClusterSelection {
  /** Chosen number of clusters. */
  k: number;
  /** Labels (sklearn's numbering) of the Ward cut into k clusters. */
  labels: Int32Array;
  /** Silhouette score of every k that was tried, in increasing k (empty when maxK <= 2). */
  scores: { k: number; score: number }[];
  /** The Ward tree, for further cuts. */
  tree: Linkage;
}

export interface SelectClusterCountOptions {
  /** Number type of the silhouette distances (see silhouette.ts); default "auto". */
  precision?: SilhouettePrecision;
}

/**
 * Ward clustering with the silhouette-selected number of clusters.
 * With fewer than 2 samples there is nothing to split: k = n and all labels 0.
 */
export function selectClusterCount(
  rows: Rows,
  maxClusters: number,
  options: SelectClusterCountOptions = {},
): ClusterSelection {
  const n = rows.length;
  if (!Number.isInteger(maxClusters) || maxClusters < 1) {
    throw new RangeError(`maxClusters must be a positive integer, got ${maxClusters}`);
  }
  if (n < 2) {
    const tree: Linkage = { n, children: new Int32Array(0), heights: new Float64Array(0), sizes: new Int32Array(0) };
    return { k: n, labels: new Int32Array(n), scores: [], tree };
  }
  const maxK = Math.min(n - 1, maxClusters);
  // One condensed matrix of squared distances serves both the silhouette
  // distances (derived first) and, square-rooted in place, the Ward tree.
  const squared = pdistSquaredEuclidean(rows);
  const precision = options.precision ?? "auto";
  const resolved = precision === "auto" ? (isFloat32Rows(rows) ? "float32" : "float64") : precision;
  const silDist = maxK > 2 ? silhouetteDistancesFromSquared(squared, resolved) : null;
  for (let p = 0; p < squared.length; p++) squared[p] = Math.sqrt(squared[p]!);
  const tree = wardLinkageFromDistances(squared, n, true);
  if (silDist === null) return { k: 2, labels: cutTree(tree, 2), scores: [], tree };

  let bestK = 2;
  let bestScore = -1;
  let bestLabels: Int32Array | null = null;
  const scores: { k: number; score: number }[] = [];
  for (let k = 2; k <= maxK; k++) {
    const labels = cutTree(tree, k);
    const score = silhouetteScoreFromDistances(silDist, n, labels);
    scores.push({ k, score });
    if (score > bestScore) {
      bestScore = score;
      bestK = k;
      bestLabels = labels;
    }
  }
  return { k: bestK, labels: bestLabels ?? cutTree(tree, bestK), scores, tree };
}
