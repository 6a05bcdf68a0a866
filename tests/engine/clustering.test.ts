import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  adjustedRandScore,
  canonicalLabels,
  cutTree,
  pdistEuclidean,
  rankData,
  selectClusterCount,
  silhouetteSamples,
  silhouetteScore,
  spearman,
  spearmanr,
  studentTCdf,
  wardLinkage,
  type Rows,
} from "~/server/neurflow/clustering";

// Reference produced by tests/fixtures/clustering/make_reference.py (Debian's python3-sklearn).
interface Cut {
  k: number;
  labels: string;
  silhouette: number;
  silhouetteDirect: number;
}
interface Selection {
  k: number;
  scores: number[];
  scoresDirect: number[];
}
interface Dataset {
  name: string;
  n: number;
  d: number;
  dtype: "float32" | "float64";
  data: string;
  children: number[];
  heights: number[];
  cuts: Cut[];
  select5: Selection;
  select100: Selection;
}
interface Reference {
  versions: Record<string, string>;
  datasets: Dataset[];
  ari: { a: number[]; b: number[]; ari: number }[];
  spearman: { a: number[]; b: number[]; correlation: number; pvalue: number }[];
}

const ref = JSON.parse(
  readFileSync(fileURLToPath(new URL("../fixtures/clustering/sklearn-reference.json", import.meta.url)), "utf8"),
) as Reference;

function decodeRows(ds: Dataset): Rows {
  const buf = Buffer.from(ds.data, "base64");
  const bytes = new Uint8Array(buf.length);
  bytes.set(buf);
  const flat = ds.dtype === "float32" ? new Float32Array(bytes.buffer) : new Float64Array(bytes.buffer);
  expect(flat.length).toBe(ds.n * ds.d);
  const rows: (Float32Array | Float64Array)[] = [];
  for (let i = 0; i < ds.n; i++) rows.push(flat.subarray(i * ds.d, (i + 1) * ds.d));
  return rows;
}

/**
 * sklearn's own silhouette loses accuracy on near-duplicate points (it expands
 * |x - y|^2 as |x|^2 - 2x.y + |y|^2); the "direct" reference (sklearn's code on
 * exactly computed distances) is always matched within 1e-9, sklearn's value
 * within 1e-9 plus sklearn's own error where that error exceeds 1e-10.
 */
function sklearnTolerance(sklearn: number, direct: number): number {
  const err = Math.abs(sklearn - direct);
  return err > 1e-10 ? err + 1e-9 : 1e-9;
}

describe("clustering vs scikit-learn / scipy reference", () => {
  it("fixture is present and varied", () => {
    expect(ref.datasets.length).toBeGreaterThanOrEqual(30);
    expect(ref.datasets.some((d) => d.dtype === "float32")).toBe(true);
    expect(Math.min(...ref.datasets.map((d) => d.n))).toBe(3);
    expect(Math.max(...ref.datasets.map((d) => d.n))).toBe(300);
    expect(Math.max(...ref.datasets.map((d) => d.d))).toBe(128);
  });

  for (const ds of ref.datasets) {
    describe(`${ds.name} (n=${ds.n}, d=${ds.d}, ${ds.dtype})`, () => {
      const rows = decodeRows(ds);
      const tree = wardLinkage(rows);

      it("ward tree equals scipy linkage(X, 'ward')", () => {
        expect(Array.from(tree.children)).toEqual(ds.children);
        for (let s = 0; s < ds.heights.length; s++) {
          expect(Math.abs(tree.heights[s]! - ds.heights[s]!)).toBeLessThanOrEqual(1e-12 * Math.max(1, ds.heights[s]!));
        }
      });

      it("cuts equal AgglomerativeClustering(k, ward).labels_ for k = 2..min(n-1, 10)", () => {
        expect(ds.cuts.length).toBe(Math.min(ds.n - 1, 10) - 1);
        for (const c of ds.cuts) {
          const want = Array.from(c.labels, Number);
          const got = cutTree(tree, c.k);
          // as partitions
          expect(Array.from(canonicalLabels(got)), `k=${c.k}`).toEqual(Array.from(canonicalLabels(want)));
          expect(adjustedRandScore(got, want)).toBe(1);
          // and, since sklearn's heap order is replayed, label for label
          expect(Array.from(got), `k=${c.k}`).toEqual(want);
        }
      });

      it("silhouette_score within 1e-9", () => {
        for (const c of ds.cuts) {
          const got = silhouetteScore(rows, Array.from(c.labels, Number));
          expect(Math.abs(got - c.silhouetteDirect), `k=${c.k}`).toBeLessThanOrEqual(1e-9);
          expect(Math.abs(got - c.silhouette), `k=${c.k}`).toBeLessThanOrEqual(
            sklearnTolerance(c.silhouette, c.silhouetteDirect),
          );
        }
      });

      it("selected cluster count equals the reference rule", () => {
        for (const [maxClusters, want] of [
          [5, ds.select5],
          [100, ds.select100],
        ] as const) {
          const sel = selectClusterCount(rows, maxClusters);
          expect(sel.k, `maxClusters=${maxClusters}`).toBe(want.k);
          expect(sel.scores.map((s) => s.k)).toEqual(want.scores.map((_, i) => i + 2));
          sel.scores.forEach((s, i) => {
            const sk = want.scores[i]!;
            const direct = want.scoresDirect[i]!;
            expect(Math.abs(s.score - direct), `k=${s.k}`).toBeLessThanOrEqual(1e-9);
            expect(Math.abs(s.score - sk), `k=${s.k}`).toBeLessThanOrEqual(sklearnTolerance(sk, direct));
          });
          expect(Array.from(sel.labels)).toEqual(Array.from(cutTree(sel.tree, sel.k)));
        }
      });
    });
  }

  it("adjusted_rand_score within 1e-12", () => {
    for (const c of ref.ari) {
      expect(Math.abs(adjustedRandScore(c.a, c.b) - c.ari)).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(adjustedRandScore(c.b, c.a) - c.ari)).toBeLessThanOrEqual(1e-12);
    }
  });

  it("spearmanr within 1e-12", () => {
    for (const c of ref.spearman) {
      const r = spearmanr(c.a, c.b);
      expect(Math.abs(r.correlation - c.correlation), `n=${c.a.length}`).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(r.pvalue - c.pvalue), `n=${c.a.length}`).toBeLessThanOrEqual(1e-12);
      expect(spearman(c.a, c.b)).toBe(r.correlation);
    }
  });
});

describe("clustering, hand-computed cases", () => {
  it("ward heights and Lance–Williams update on 3 points", () => {
    // (0,0), (1,0), (5,0): first merge {0,1} at 1; then
    // d² = (2/3)·25 + (2/3)·16 − (1/3)·1 = 27
    const t = wardLinkage([
      [0, 0],
      [1, 0],
      [5, 0],
    ]);
    expect(Array.from(t.children)).toEqual([0, 1, 2, 3]);
    expect(t.heights[0]).toBe(1);
    expect(t.heights[1]).toBeCloseTo(Math.sqrt(27), 14);
    expect(Array.from(t.sizes)).toEqual([2, 3]);
  });

  it("ward merges by variance increase, not by nearest points", () => {
    // 0, 2, 3.2, 10 on a line. Single linkage would join {2, 3.2} first (1.2);
    // ward then compares {0} vs {2,3.2}: sqrt(2·1·2/3)·2.6 ≈ 3.002 and
    // {2,3.2} vs {10}: sqrt(4/3)·7.4 ≈ 8.545, so {0,2,3.2} forms before 10 joins.
    const t = wardLinkage([[0], [2], [3.2], [10]]);
    expect(t.heights[0]).toBeCloseTo(1.2, 14);
    expect(t.heights[1]).toBeCloseTo(Math.sqrt(4 / 3) * 2.6, 14);
    // last merge, sizes 3 and 1: sqrt(2·3·1/4)·|10 − 5.2/3|
    expect(t.heights[2]).toBeCloseTo(Math.sqrt(1.5) * (10 - 5.2 / 3), 13);
    expect(Array.from(t.children)).toEqual([1, 2, 0, 4, 3, 5]);
    expect(Array.from(canonicalLabels(cutTree(t, 2)))).toEqual([0, 0, 0, 1]);
    expect(Array.from(canonicalLabels(cutTree(t, 3)))).toEqual([0, 1, 1, 2]);
    expect(Array.from(cutTree(t, 1))).toEqual([0, 0, 0, 0]);
    expect(new Set(cutTree(t, 4)).size).toBe(4);
  });

  it("silhouette: (b − a) / max(a, b) averaged over samples", () => {
    // 1-D points 0, 1, 4, 6 in clusters {0,1}, {4,6}
    const s = silhouetteSamples([[0], [1], [4], [6]], [0, 0, 1, 1]);
    const want = [4 / 5, 3 / 4, 1.5 / 3.5, 3.5 / 5.5];
    want.forEach((w, i) => expect(s[i]).toBeCloseTo(w, 15));
    expect(silhouetteScore([[0], [1], [4], [6]], [7, 7, 3, 3])).toBeCloseTo(
      (4 / 5 + 3 / 4 + 1.5 / 3.5 + 3.5 / 5.5) / 4,
      15,
    );
  });

  it("silhouette: singleton clusters score 0, b is the nearest other cluster's mean", () => {
    // 0, 1, 10 with clusters {0,1}, {10}: s = 0.9, 8/9, 0
    expect(silhouetteScore([[0], [1], [10]], [0, 0, 1])).toBeCloseTo((0.9 + 8 / 9) / 3, 15);
    // three clusters: b for sample 0 is min(mean to {3}, mean to {10,11}) = 3
    const s = silhouetteSamples([[0], [1], [3], [10], [11]], [0, 0, 1, 2, 2]);
    expect(s[0]).toBeCloseTo((3 - 1) / 3, 15);
    expect(s[2]).toBe(0);
    expect(() => silhouetteScore([[0], [1], [2]], [0, 0, 0])).toThrow();
    expect(() => silhouetteScore([[0], [1], [2]], [0, 1, 2])).toThrow();
  });

  it("selection rule: maxK <= 2 returns 2 unscored; ties keep the first k", () => {
    const three = selectClusterCount([[0], [1], [5]], 5);
    expect(three.k).toBe(2);
    expect(three.scores).toEqual([]);
    expect(Array.from(canonicalLabels(three.labels))).toEqual([0, 0, 1]);
    expect(selectClusterCount([[0], [1], [5], [6], [20]], 2).k).toBe(2);
    expect(Array.from(selectClusterCount([[0], [4]], 5).labels).sort()).toEqual([0, 1]);
    expect(selectClusterCount([[3, 3]], 5)).toMatchObject({ k: 1, scores: [] });
    // two far-apart tight pairs: k = 2 wins clearly over k = 3, 4
    const sel = selectClusterCount([[0], [0.1], [10], [10.1], [20], [20.1]], 5);
    expect(sel.k).toBe(3);
    expect(sel.scores.map((s) => s.k)).toEqual([2, 3, 4, 5]);
    // identical points: every silhouette is 0, so the first k (2) is kept
    const same = selectClusterCount(
      [
        [1, 1],
        [1, 1],
        [1, 1],
        [1, 1],
        [1, 1],
      ],
      5,
    );
    expect(same.scores.every((s) => s.score === 0)).toBe(true);
    expect(same.k).toBe(2);
  });

  it("adjusted Rand index", () => {
    expect(adjustedRandScore([0, 0, 1, 1], [0, 1, 0, 1])).toBe(-0.5);
    expect(adjustedRandScore([0, 0, 1, 1], [5, 5, 2, 2])).toBe(1);
    // pairs: index 3 alone vs {2,3}: Σ C(nij,2) = 1 = expected (3·2/6) -> 0
    expect(adjustedRandScore([0, 0, 0, 1], [0, 0, 1, 1])).toBe(0);
  });

  it("spearman with average ranks for ties", () => {
    expect(Array.from(rankData([10, 20, 20, 5, 20]))).toEqual([2, 4, 4, 1, 4]);
    expect(spearman([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(0.8, 15);
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(Math.sqrt(0.9), 15);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBe(-1);
    expect(Number.isNaN(spearman([1, 1, 1], [1, 2, 3]))).toBe(true);
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 15);
    expect(studentTCdf(1, 2)).toBeCloseTo(0.5 + 1 / (2 * Math.sqrt(3)), 15);
    expect(studentTCdf(-2, 3)).toBeCloseTo(1 - studentTCdf(2, 3), 15);
  });

  it("is deterministic on tied data", () => {
    const pts: number[][] = [];
    for (let x = 0; x < 4; x++) for (let y = 0; y < 4; y++) pts.push([x, y], [x, y]);
    const a = wardLinkage(pts);
    const b = wardLinkage(pts.map((p) => Float64Array.from(p)));
    expect(Array.from(a.children)).toEqual(Array.from(b.children));
    expect(Array.from(a.heights)).toEqual(Array.from(b.heights));
    expect(pdistEuclidean(pts).length).toBe((32 * 31) / 2);
  });
});
