/**
 * Flat clusters from a ward tree, reproducing scikit-learn's `_hc_cut`
 * (used by `AgglomerativeClustering(n_clusters=k).labels_`).
 *
 * The cut at k clusters splits the k - 1 highest nodes, i.e. it keeps the
 * first n - k merges of the height-sorted tree. The label numbering follows
 * sklearn too: sklearn keeps the current nodes in a binary heap (Python's
 * `heapq`, keyed by negated node id) and numbers each cluster by its node's
 * position in that heap; the same heap operations are replayed here, so the
 * labels are sklearn's, not only the partition.
 */
import type { Linkage } from "./ward";

// Python heapq primitives on a min-heap of numbers (distinct values).
function siftDown(heap: number[], startPos: number, pos: number): void {
  const item = heap[pos]!;
  while (pos > startPos) {
    const parentPos = (pos - 1) >> 1;
    const parent = heap[parentPos]!;
    if (item < parent) {
      heap[pos] = parent;
      pos = parentPos;
      continue;
    }
    break;
  }
  heap[pos] = item;
}

function siftUp(heap: number[], pos: number): void {
  const endPos = heap.length;
  const startPos = pos;
  const item = heap[pos]!;
  let childPos = 2 * pos + 1;
  while (childPos < endPos) {
    const rightPos = childPos + 1;
    if (rightPos < endPos && !(heap[childPos]! < heap[rightPos]!)) childPos = rightPos;
    heap[pos] = heap[childPos]!;
    pos = childPos;
    childPos = 2 * pos + 1;
  }
  heap[pos] = item;
  siftDown(heap, startPos, pos);
}

function heappush(heap: number[], item: number): void {
  heap.push(item);
  siftDown(heap, 0, heap.length - 1);
}

function heappushpop(heap: number[], item: number): number {
  if (heap.length > 0 && heap[0]! < item) {
    const top = heap[0]!;
    heap[0] = item;
    siftUp(heap, 0);
    return top;
  }
  return item;
}

/**
 * Labels 0..k-1 for each of the `tree.n` samples when the tree is cut into k
 * clusters (1 <= k <= n). Identical to sklearn's labels, numbering included.
 */
export function cutTree(tree: Linkage, k: number): Int32Array {
  const { n, children } = tree;
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new RangeError(`cannot cut a tree of ${n} leaves into ${k} clusters`);
  }
  const labels = new Int32Array(n);
  if (n === 1) return labels;
  // Heap of negated node ids; the root is node 2n - 2.
  const nodes: number[] = [-(2 * n - 2)];
  for (let step = 0; step < k - 1; step++) {
    const m = -nodes[0]! - n;
    heappush(nodes, -children[2 * m]!);
    heappushpop(nodes, -children[2 * m + 1]!);
  }
  const stack: number[] = [];
  for (let c = 0; c < nodes.length; c++) {
    stack.push(-nodes[c]!);
    while (stack.length > 0) {
      const v = stack.pop()!;
      if (v < n) {
        labels[v] = c;
      } else {
        const m = v - n;
        stack.push(children[2 * m]!, children[2 * m + 1]!);
      }
    }
  }
  return labels;
}

/**
 * Relabels a partition canonically: clusters numbered 0, 1, ... in order of
 * their first sample. Two labelings describe the same partition exactly when
 * their canonical forms are equal.
 */
export function canonicalLabels(labels: ArrayLike<number>): Int32Array {
  const map = new Map<number, number>();
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    let c = map.get(l);
    if (c === undefined) {
      c = map.size;
      map.set(l, c);
    }
    out[i] = c;
  }
  return out;
}
