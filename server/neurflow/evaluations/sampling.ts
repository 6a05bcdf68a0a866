/**
 * Seeded sampling for the evaluations' random neuron sets, so a run is reproducible from its seed
 * (mulberry32 generator; sets drawn uniformly without replacement by a partial Fisher–Yates shuffle).
 */

export type Random = () => number;

export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `k` distinct values of 0..n−1, uniformly at random. */
export function sampleWithoutReplacement(n: number, k: number, random: Random): number[] {
  if (!Number.isInteger(k) || k < 0 || k > n) throw new Error(`cannot draw ${k} distinct neurons out of ${n}`);
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k);
}
