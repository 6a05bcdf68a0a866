/**
 * Clustering and statistics used by the NeurFlow engine, reproducing
 * scikit-learn 1.2 / scipy 1.10 results (checked against a committed
 * reference, tests/fixtures/clustering/sklearn-reference.json):
 *
 *  - ward.ts               scipy `linkage(X, "ward")` (nearest-neighbour chain)
 *  - cutTree.ts            sklearn `AgglomerativeClustering(k, linkage="ward").labels_`
 *  - silhouette.ts         sklearn `silhouette_samples` / `silhouette_score` (Euclidean)
 *  - selectClusterCount.ts the NeurFlow rule choosing k by best silhouette
 *  - adjustedRand.ts       sklearn `adjusted_rand_score`
 *  - spearman.ts           scipy `spearmanr` (average ranks for ties)
 *
 * Determinism: no randomness anywhere. Ties are broken exactly as scipy /
 * sklearn break them: nearest-neighbour ties prefer the previous chain
 * element, then the lowest cluster index; equal merge heights keep the order
 * in which the merges were found (stable sort); cut labels replay sklearn's
 * heap; selection ties keep the smaller k.
 */
export * from "./ward";
export * from "./cutTree";
export * from "./silhouette";
export * from "./selectClusterCount";
export * from "./adjustedRand";
export * from "./spearman";
