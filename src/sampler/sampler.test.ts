// The sampler: seeded reproducibility, the distribution of many seeded draws against the intended
// one (chi-square, fixed seed) for temperature / top-k / top-p / min-p, penalties and logit bias
// against their definitions, and stop strings split across pushes.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Sampler, type SamplingOptions } from './sampler.ts';
import { seededRandom } from '../util/random.ts';

// Deterministic Gaussian logits, so the tests do not depend on Math.random.
function gaussians(n: number, seed: number, scale = 2): Float32Array {
  return seededRandom(seed).vec(n, scale);
}

// The intended distribution, from the definitions: top-k keeps the k largest logits; top-p the
// most likely tokens (at temperature 1) until their probabilities sum to at least p; min-p the
// tokens at least min_p times as likely as the best; then softmax(logit / temperature).
function intended(logits: Float32Array, o: SamplingOptions): Map<number, number> {
  let ids = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  if (o.topK) ids = ids.slice(0, o.topK);
  const softmax = (set: number[], t: number) => {
    const m = Math.max(...set.map((i) => logits[i]));
    const e = set.map((i) => Math.exp((logits[i] - m) / t));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  };
  const minKeep = o.minKeep ?? 1;
  if (o.topP !== undefined && o.topP < 1) {
    const p = softmax(ids, 1);
    let cum = 0, k = 0;
    while (k < ids.length) { cum += p[k++]; if (cum >= o.topP && k >= minKeep) break; }
    ids = ids.slice(0, k);
  }
  if (o.minP) {
    const kept = ids.filter((i) => logits[i] >= logits[ids[0]] + Math.log(o.minP!));
    ids = kept.length >= minKeep ? kept : ids.slice(0, minKeep);
  }
  const p = softmax(ids, o.temperature ?? 1);
  return new Map(ids.map((id, k) => [id, p[k]]));
}

// Upper critical value of chi-square with `df` degrees of freedom at z standard deviations
// (Wilson-Hilferty); z = 3.09 is the 0.001 tail.
const chi2Critical = (df: number, z = 3.09) => df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;

// A small vocabulary with peaked logits, and a larger one with flat logits where top-p and top-k
// keep hundreds of candidates (the paths that sort with a heap and bucket the whole vocabulary).
describe.each([[48, 2], [1000, 0.7]])('distribution of seeded draws, %i tokens', (N_VOCAB, scale) => {
  const DRAWS = 20_000;
  const logits = gaussians(N_VOCAB, 7, scale);
  let sampler: Sampler;
  beforeAll(async () => { sampler = await Sampler.create(N_VOCAB); });
  afterAll(() => sampler.dispose());

  const configs: [string, SamplingOptions][] = [
    ['temperature 1', { temperature: 1 }],
    ['temperature 0.6', { temperature: 0.6 }],
    ['temperature 1.8', { temperature: 1.8 }],
    ['top-k 5', { topK: 5 }],
    ['top-k 100', { topK: 100 }],
    ['top-p 0.7', { topP: 0.7 }],
    ['min-p 0.1', { minP: 0.1 }],
    ['min-p 0.95, min-keep 3', { minP: 0.95, minKeep: 3 }],
    ['top-p 0.05, min-keep 4', { topP: 0.05, minKeep: 4 }],
    ['top-k 20, top-p 0.9, min-p 0.05, temperature 0.8', { topK: 20, topP: 0.9, minP: 0.05, temperature: 0.8 }],
  ];
  test.each(configs)('%s', (_, opts) => {
    sampler.configure({ temperature: 1, topK: 0, topP: 1, minP: 0, minKeep: 1, ...opts, seed: 12345 });
    const want = intended(logits, opts);
    const counts = new Map<number, number>();
    for (let i = 0; i < DRAWS; i++) {
      const id = sampler.sample(logits);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const outside = [...counts.keys()].filter((id) => !want.has(id));
    expect(outside).toEqual([]);
    // Bins with an expected count below 5 are pooled into one.
    let chi2 = 0, bins = 0, poolE = 0, poolO = 0;
    for (const [id, p] of want) {
      const e = p * DRAWS, o = counts.get(id) ?? 0;
      if (e < 5) { poolE += e; poolO += o; continue; }
      chi2 += (o - e) ** 2 / e;
      bins++;
    }
    if (poolE > 0) { chi2 += (poolO - poolE) ** 2 / Math.max(poolE, 1e-9); bins++; }
    if (bins > 1) expect(chi2).toBeLessThan(chi2Critical(bins - 1));
    else expect(counts.size).toBe(1);
  });
});

describe('sampler', () => {
  test('the same seed gives the same tokens; another seed does not', async () => {
    const s = await Sampler.create(151_936, { temperature: 0.9, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1, seed: 42 });
    const steps = Array.from({ length: 30 }, (_, i) => gaussians(151_936, 100 + i, 3));
    const run = (seed: number) => {
      s.configure({ seed });
      s.reset();
      return steps.map((l) => { const id = s.sample(l); s.accept(id); return id; });
    };
    const a = run(42), b = run(42), c = run(43);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    s.dispose();
  });

  test('greedy is the argmax (lowest id on ties); logit bias and bans apply first', async () => {
    const logits = Float32Array.from([1, 5, 3, 5, -2]);
    const s = await Sampler.create(5, { temperature: 0 });
    expect(s.sample(logits)).toBe(1);
    s.configure({ logitBias: { 1: -Infinity } });
    expect(s.sample(logits)).toBe(3);
    s.configure({ logitBias: { 4: 10 } });
    expect(s.sample(logits)).toBe(4);
    s.configure({ logitBias: new Map([[0, -Infinity], [1, -Infinity], [2, -Infinity], [3, -Infinity], [4, -Infinity]]) });
    expect(() => s.sample(logits)).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    expect(() => s.configure({ logitBias: { 7: 1 } })).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    expect(() => s.sample(new Float32Array(4))).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    s.dispose();
  });

  test('repetition, presence and frequency penalties over the last n tokens', async () => {
    // Definitions (llama.cpp's penalties sampler): for each token among the last n accepted, a
    // positive logit is divided by the repeat penalty and a negative one multiplied by it, then
    // count * frequency + presence is subtracted.
    const penalized = (l: Float32Array, hist: number[], n: number, o: { repeat: number; presence: number; frequency: number }) => {
      const out = Float32Array.from(l);
      const counts = new Map<number, number>();
      for (const id of hist.slice(-n)) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const [id, c] of counts) {
        const x = out[id] <= 0 ? out[id] * o.repeat : out[id] / o.repeat;
        out[id] = x - c * o.frequency - o.presence;
      }
      return out;
    };
    const argmax = (l: Float32Array) => l.indexOf(Math.max(...l));
    const logits = Float32Array.from([2.0, 1.9, 1.7, -0.5, -0.6, 1.75]);
    const cases = [
      { repeat: 1.1, presence: 0, frequency: 0, n: 3, hist: [0] },
      { repeat: 1.1, presence: 0, frequency: 0, n: 3, hist: [0, 1, 4, 4] },  // 0 has left the window
      { repeat: 1.0, presence: 0.3, frequency: 0, n: 8, hist: [0, 0, 0, 1] },
      { repeat: 1.0, presence: 0, frequency: 0.1, n: 8, hist: [0, 0, 0, 1] },
      { repeat: 1.3, presence: 0.1, frequency: 0.1, n: 4, hist: [3, 0, 2, 0] },
      { repeat: 5.0, presence: 0, frequency: 0, n: 16, hist: [0, 1, 5, 3] },
    ];
    const s = await Sampler.create(logits.length, { temperature: 0 });
    let changed = 0;
    for (const c of cases) {
      s.configure({ repeatPenalty: c.repeat, presencePenalty: c.presence, frequencyPenalty: c.frequency, penaltyLastN: c.n });
      for (const id of c.hist) s.accept(id);
      const want = argmax(penalized(logits, c.hist, c.n, c));
      if (want !== argmax(logits)) changed++;
      expect(s.sample(logits), JSON.stringify(c)).toBe(want);
    }
    expect(changed).toBeGreaterThanOrEqual(4);
    expect(() => s.accept(logits.length)).toThrow(expect.objectContaining({ code: 'bad-token' }));
    s.dispose();
  });
});

describe('stop strings', () => {
  test('a stop string split across pushes is caught; text before it is released, nothing after', async () => {
    const s = await Sampler.create(8);
    const m = s.stopMatcher(['<|end|>', '\n\nUser:']);
    const pushes = ['Hel', 'lo <', '|en', 'joy <|e', 'nd', '|>ignored', ' more'];
    const out = pushes.map((p) => m.push(p));
    expect(out.join('')).toBe('Hello <|enjoy ');
    expect(m.stopped).toBe('<|end|>');
    // "<" and "<|en" are held back while they could still start a stop string, released as soon
    // as they cannot.
    expect(out.slice(0, 4)).toEqual(['Hel', 'lo ', '', '<|enjoy ']);
    m.dispose();

    const m2 = s.stopMatcher(['。\n', 'STOP']);
    expect(m2.push('你好') + m2.push('。') + m2.push('再见ST') + m2.flush()).toBe('你好。再见ST');
    expect(m2.stopped).toBeUndefined();
    const m3 = s.stopMatcher(['。\n']);
    expect(m3.push('好。') + m3.push('\n然后')).toBe('好');
    expect(m3.stopped).toBe('。\n');
    expect(() => s.stopMatcher([''])).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    m2.dispose();
    m3.dispose();
    s.dispose();
  });
});
