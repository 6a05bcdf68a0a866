/**
 * Timing of the clustering module on n = 2000 points of 256 dimensions
 * (float32, activation-like). Not a test: prints milliseconds.
 *
 *   npx tsx bench/clustering.ts [n] [dims]
 */
import {
  cutTree,
  pdistEuclidean,
  selectClusterCount,
  silhouetteDistances,
  silhouetteScoreFromDistances,
  wardLinkage,
} from "../server/neurflow/clustering";

const n = Number(process.argv[2] ?? 2000);
const dims = Number(process.argv[3] ?? 256);

// Deterministic xorshift32 data: 12 blobs plus noise, ReLU, float32.
let state = 0x9e3779b9;
const rand = (): number => {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 4294967296;
};
const gauss = (): number => {
  let s = 0;
  for (let i = 0; i < 12; i++) s += rand();
  return s - 6;
};
const centers = Array.from({ length: 12 }, () => Array.from({ length: dims }, () => gauss() * 2));
const rows = Array.from({ length: n }, () => {
  const c = centers[Math.floor(rand() * centers.length)]!;
  const r = new Float32Array(dims);
  for (let j = 0; j < dims; j++) r[j] = Math.max(0, c[j]! + gauss());
  return r;
});

function time<T>(label: string, f: () => T): T {
  const t0 = performance.now();
  const out = f();
  console.log(`${label.padEnd(44)} ${(performance.now() - t0).toFixed(1).padStart(9)} ms`);
  return out;
}

console.log(`n = ${n}, dims = ${dims}`);
time("pdist (float64 condensed)", () => pdistEuclidean(rows));
const tree = time("wardLinkage (pdist + nn-chain)", () => wardLinkage(rows));
time("cutTree k = 2..100", () => {
  for (let k = 2; k <= Math.min(100, n); k++) cutTree(tree, k);
});
const dist = time("silhouette distances (float32)", () => silhouetteDistances(rows));
time("silhouette_score x 99 (k = 2..100)", () => {
  for (let k = 2; k <= Math.min(100, n - 1); k++) silhouetteScoreFromDistances(dist, n, cutTree(tree, k));
});
const sel5 = time("selectClusterCount(maxClusters = 5)", () => selectClusterCount(rows, 5));
const sel100 = time("selectClusterCount(maxClusters = 100)", () => selectClusterCount(rows, 100));
console.log(`chosen k: ${sel5.k} (max 5), ${sel100.k} (max 100)`);
