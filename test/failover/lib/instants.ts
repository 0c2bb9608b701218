// Where in a workload each kill cycle strikes. Random, but reproducible from one seed
// (printed by every test, set with INTACT_FAILOVER_SEED), and stratified: cycle i of n
// draws from the i-th n-th of the range, so 20 cycles cover the whole transfer from
// its first bytes to its last instead of clustering by chance.

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n integers in [lo, hi), the i-th drawn uniformly from the i-th of n equal slices. */
export function stratified(rand: () => number, n: number, lo: number, hi: number): number[] {
  const out: number[] = [];
  const span = (hi - lo) / n;
  for (let i = 0; i < n; i++) out.push(Math.min(hi - 1, Math.floor(lo + span * (i + rand()))));
  return out;
}

export function testSeed(): number {
  const env = process.env.INTACT_FAILOVER_SEED;
  return env !== undefined && /^\d+$/.test(env) ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}

/** How many kill cycles per workload: INTACT_FAILOVER_CYCLES, default 20 (the number). */
export function cycleCount(): number {
  const env = process.env.INTACT_FAILOVER_CYCLES;
  return env !== undefined && /^\d+$/.test(env) && Number(env) > 0 ? Number(env) : 20;
}
