/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32), so that the toy world
 * is the same on every machine and Node version: no Math.random anywhere in the generator.
 */

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit state. */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Derives one 32-bit seed from several values (numbers and labels), e.g.
 * `deriveSeed(datasetSeed, "train", classIndex, i)`. Different inputs give unrelated seeds.
 */
export function deriveSeed(...parts: (number | string)[]): number {
  let h = 0x811c9dc5;
  const mix = (v: number) => {
    h = splitmix32((h ^ v) >>> 0);
  };
  for (const p of parts) {
    if (typeof p === "number") {
      if (!Number.isFinite(p)) throw new Error(`deriveSeed: ${p} is not a finite number`);
      mix(p >>> 0);
      mix(Math.floor(p / 2 ** 32) >>> 0);
    } else {
      for (let i = 0; i < p.length; i++) mix(p.charCodeAt(i));
      mix(0xffff);
    }
  }
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    let s = seed >>> 0;
    this.a = s = splitmix32(s);
    this.b = s = splitmix32(s);
    this.c = s = splitmix32(s);
    this.d = splitmix32(s);
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi) (hi exclusive). */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) throw new Error(`Rng.int: empty range [${lo}, ${hi})`);
    return lo + Math.floor(this.next() * (hi - lo));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Normal(mean, sd) by the Box–Muller transform. */
  normal(mean = 0, sd = 1): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return mean + sd * v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Rng.pick: no items");
    return items[this.int(0, items.length)]!;
  }

  /** A permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  }
}
