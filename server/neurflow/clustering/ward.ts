/**
 * Ward hierarchical clustering tree, reproducing
 * `scipy.cluster.hierarchy.linkage(X, method="ward", metric="euclidean")`
 * (which is what scikit-learn's `AgglomerativeClustering(linkage="ward")`
 * uses when no connectivity is given).
 *
 * Algorithm (same as scipy's `nn_chain`):
 *  1. Condensed Euclidean distances in float64, each computed as
 *     `sqrt(sum_j (x_j - y_j)^2)` with a sequential sum over dimensions
 *     (float32 input is widened to float64 first, as scipy's `pdist` does).
 *  2. Nearest-neighbour chain: the chain starts at the lowest-index live
 *     cluster; the nearest neighbour of the chain tip is searched in index
 *     order with a strict `<`, seeded with the previous chain element, so on
 *     ties the previous chain element wins, then the lowest index. Two mutual
 *     nearest neighbours x < y are merged; x is dropped and y holds the union.
 *  3. Lance–Williams update for Ward on (non-squared) Euclidean distances:
 *       t = 1 / (nx + ny + ni)
 *       d(xy, i) = sqrt((ni + nx) * t * d_xi^2 + (ni + ny) * t * d_yi^2 - ni * t * d_xy^2)
 *     evaluated in the same operation order as scipy.
 *  4. Merges are stably sorted by height (ties keep discovery order), then
 *     relabelled with a union-find: the merge at sorted position s creates node
 *     `n + s`, its children stored as (smaller id, larger id).
 *
 * Everything is deterministic: the same input always gives the same tree.
 * Memory: one condensed float64 matrix (n(n-1)/2 entries); time O(n^2 d) for
 * the distances plus O(n^2) for the chain.
 */

/** Rows of a data matrix: every row must have the same length. */
export type Rows = ReadonlyArray<ArrayLike<number>>;

/** A ward merge tree in scipy's linkage-matrix layout. */
export interface Linkage {
  /** Number of leaves (samples). */
  readonly n: number;
  /** Merge s joins nodes children[2s] < children[2s+1] into node n + s. */
  readonly children: Int32Array;
  /** Merge heights (ward distances), non-decreasing. */
  readonly heights: Float64Array;
  /** Number of samples below each merge node. */
  readonly sizes: Int32Array;
}

/** Index of pair (i, j), i != j, in a condensed distance matrix of n items (scipy's layout). */
export function condensedIndex(n: number, i: number, j: number): number {
  if (i === j) throw new RangeError("condensedIndex: i === j");
  if (i > j) {
    const t = i;
    i = j;
    j = t;
  }
  return n * i - (i * (i + 1)) / 2 + (j - i - 1);
}

function checkRows(rows: Rows): number {
  const n = rows.length;
  if (n === 0) return 0;
  const dim = rows[0]!.length;
  for (let i = 1; i < n; i++) {
    if (rows[i]!.length !== dim) {
      throw new RangeError(`rows have different lengths (${dim} vs ${rows[i]!.length} at row ${i})`);
    }
  }
  return dim;
}

/**
 * Condensed matrix of squared Euclidean distances, float64, sequential sum over
 * dimensions (pair (i, j), i < j, at `condensedIndex(n, i, j)`).
 */
export function pdistSquaredEuclidean(rows: Rows): Float64Array {
  const n = rows.length;
  const dim = checkRows(rows);
  const out = new Float64Array((n * (n - 1)) / 2);
  // Widen every row to float64 once (exact for float32 input).
  const flat = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    const base = i * dim;
    for (let j = 0; j < dim; j++) flat[base + j] = r[j]!;
  }
  let p = 0;
  for (let i = 0; i < n; i++) {
    const bi = i * dim;
    for (let k = i + 1; k < n; k++) {
      const bk = k * dim;
      // Sequential sum (unrolled without reordering the additions).
      let s = 0;
      let j = 0;
      for (; j + 4 <= dim; j += 4) {
        const d0 = flat[bi + j]! - flat[bk + j]!;
        const d1 = flat[bi + j + 1]! - flat[bk + j + 1]!;
        const d2 = flat[bi + j + 2]! - flat[bk + j + 2]!;
        const d3 = flat[bi + j + 3]! - flat[bk + j + 3]!;
        s += d0 * d0;
        s += d1 * d1;
        s += d2 * d2;
        s += d3 * d3;
      }
      for (; j < dim; j++) {
        const d = flat[bi + j]! - flat[bk + j]!;
        s += d * d;
      }
      out[p++] = s;
    }
  }
  return out;
}

/** Condensed matrix of Euclidean distances (scipy `pdist(X, "euclidean")`). */
export function pdistEuclidean(rows: Rows): Float64Array {
  const sq = pdistSquaredEuclidean(rows);
  for (let p = 0; p < sq.length; p++) sq[p] = Math.sqrt(sq[p]!);
  return sq;
}

/** Ward tree of the rows (scipy `linkage(X, "ward")`). Requires at least 1 row. */
export function wardLinkage(rows: Rows): Linkage {
  const n = rows.length;
  if (n < 1) throw new RangeError("wardLinkage needs at least one row");
  const dist = pdistEuclidean(rows);
  return wardLinkageFromDistances(dist, n, true);
}

/**
 * Ward tree from a condensed Euclidean distance matrix of n items.
 * With `consume` the matrix is used as scratch space (and destroyed);
 * otherwise it is copied first.
 */
export function wardLinkageFromDistances(condensed: Float64Array, n: number, consume = false): Linkage {
  if (condensed.length !== (n * (n - 1)) / 2) {
    throw new RangeError(`condensed matrix has ${condensed.length} entries, expected ${(n * (n - 1)) / 2}`);
  }
  for (let p = 0; p < condensed.length; p++) {
    if (!Number.isFinite(condensed[p]!)) throw new RangeError("distance matrix must contain only finite values");
  }
  const D = consume ? condensed : condensed.slice();
  const merges = Math.max(n - 1, 0);
  const zx = new Int32Array(merges);
  const zy = new Int32Array(merges);
  const zh = new Float64Array(merges);
  const size = new Int32Array(n).fill(1);
  const chain = new Int32Array(n);
  let chainLength = 0;
  // Row offsets: for i < j, index = rowStart[i] + (j - i - 1).
  const rowStart = new Float64Array(n);
  for (let i = 0; i < n; i++) rowStart[i] = n * i - (i * (i + 1)) / 2;
  const at = (i: number, j: number): number => (i < j ? rowStart[i]! + (j - i - 1) : rowStart[j]! + (i - j - 1));

  for (let k = 0; k < merges; k++) {
    if (chainLength === 0) {
      chainLength = 1;
      for (let i = 0; i < n; i++) {
        if (size[i]! > 0) {
          chain[0] = i;
          break;
        }
      }
    }
    let x = 0;
    let y = 0;
    let currentMin = Infinity;
    for (;;) {
      x = chain[chainLength - 1]!;
      if (chainLength > 1) {
        y = chain[chainLength - 2]!;
        currentMin = D[at(x, y)]!;
      } else {
        currentMin = Infinity;
      }
      // i < x: column x of earlier rows
      for (let i = 0; i < x; i++) {
        if (size[i] === 0) continue;
        const d = D[rowStart[i]! + (x - i - 1)]!;
        if (d < currentMin) {
          currentMin = d;
          y = i;
        }
      }
      // i > x: contiguous row x
      const rx = rowStart[x]! - x - 1;
      for (let i = x + 1; i < n; i++) {
        if (size[i] === 0) continue;
        const d = D[rx + i]!;
        if (d < currentMin) {
          currentMin = d;
          y = i;
        }
      }
      if (chainLength > 1 && y === chain[chainLength - 2]) break;
      chain[chainLength] = y;
      chainLength += 1;
    }
    chainLength -= 2;
    if (x > y) {
      const t = x;
      x = y;
      y = t;
    }
    const nx = size[x]!;
    const ny = size[y]!;
    zx[k] = x;
    zy[k] = y;
    zh[k] = currentMin;
    size[x] = 0;
    size[y] = nx + ny;
    const dxy = currentMin;
    for (let i = 0; i < n; i++) {
      const ni = size[i]!;
      if (ni === 0 || i === y) continue;
      const ixi = at(i, x);
      const iyi = at(i, y);
      const dxi = D[ixi]!;
      const dyi = D[iyi]!;
      const t = 1.0 / (nx + ny + ni);
      D[iyi] = Math.sqrt((ni + nx) * t * dxi * dxi + (ni + ny) * t * dyi * dyi - ni * t * dxy * dxy);
    }
  }

  // Stable sort of the merges by height (NaN last, like numpy).
  const order = Array.from({ length: merges }, (_, i) => i);
  order.sort((a, b) => {
    const ha = zh[a]!;
    const hb = zh[b]!;
    if (ha < hb) return -1;
    if (ha > hb) return 1;
    const na = Number.isNaN(ha);
    const nb = Number.isNaN(hb);
    if (na !== nb) return na ? 1 : -1;
    return 0;
  });

  // Union-find relabelling: sorted merge s creates node n + s.
  const parent = new Int32Array(2 * n - 1 > 0 ? 2 * n - 1 : 1);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  const find = (v: number): number => {
    let r = v;
    while (parent[r] !== r) r = parent[r]!;
    while (parent[v] !== r) {
      const next = parent[v]!;
      parent[v] = r;
      v = next;
    }
    return r;
  };
  const clusterSize = new Int32Array(2 * n - 1 > 0 ? 2 * n - 1 : 1);
  for (let i = 0; i < n; i++) clusterSize[i] = 1;
  const children = new Int32Array(2 * merges);
  const heights = new Float64Array(merges);
  const sizes = new Int32Array(merges);
  for (let s = 0; s < merges; s++) {
    const m = order[s]!;
    const rx = find(zx[m]!);
    const ry = find(zy[m]!);
    const a = rx < ry ? rx : ry;
    const b = rx < ry ? ry : rx;
    const node = n + s;
    children[2 * s] = a;
    children[2 * s + 1] = b;
    heights[s] = zh[m]!;
    const sz = clusterSize[a]! + clusterSize[b]!;
    sizes[s] = sz;
    clusterSize[node] = sz;
    parent[a] = node;
    parent[b] = node;
  }
  return { n, children, heights, sizes };
}
