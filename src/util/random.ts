// One seeded PRNG for tests, tools and benchmarks (mulberry32: 32 bits of state, fast, good
// enough for test data), so the same seed gives the same numbers in Node and in the browser.

export interface Random {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Standard normal (Box-Muller). */
  gauss(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** n normal values times scale. */
  vec(n: number, scale?: number): Float32Array;
}

export function seededRandom(seed: number): Random {
  let s = seed | 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return {
    uniform,
    gauss,
    int: (n) => Math.floor(uniform() * n),
    vec: (n, scale = 1) => Float32Array.from({ length: n }, () => gauss() * scale),
  };
}
