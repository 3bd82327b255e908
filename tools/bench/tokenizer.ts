// Tokenizer throughput beside @huggingface/tokenizers (same text, same vocabulary, same process),
// and sampler time per token over a 151,936-token vocabulary (Qwen3's size).
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { Sampler, type SamplingOptions } from '../../src/sampler/sampler.ts';
import { tokenizerFromFile } from '../../src/tokenizer/testing.ts';
import { ALL_TEXTS, brownText } from '../vocab/corpus.ts';
import { realVocab, vocabFile, type VocabName } from '../vocab/index.ts';
import { seededRandom } from '../../src/util/random.ts';

const enc = new TextEncoder();

/** Best of `runs` timings of fn, in ms (the first call warms up). */
function best(runs: number, fn: () => void): number {
  fn();
  let t = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function tokenizerBench(name: VocabName, texts: Record<string, string>) {
  let t0 = performance.now();
  const ours = await tokenizerFromFile(await vocabFile(name));
  const oursLoad = performance.now() - t0;
  const hfData = (await realVocab(name)).hf!();
  t0 = performance.now();
  const hf = new HFTokenizer(hfData.json, hfData.config);
  const hfLoad = performance.now() - t0;
  const out: Record<string, unknown> = { loadMs: { webmoe: round(oursLoad, 0), huggingface: round(hfLoad, 0) } };
  for (const [label, text] of Object.entries(texts)) {
    const mb = enc.encode(text).length / 1e6;
    let a: Int32Array = new Int32Array(), b: number[] = [];
    const tOurs = best(3, () => { a = ours.encode(text); });
    const tHF = best(3, () => { b = hf.encode(text, { add_special_tokens: false }).ids; });
    out[label] = {
      megabytes: round(mb, 3),
      tokens: a.length,
      webmoeMBps: round(mb / (tOurs / 1e3)),
      huggingfaceMBps: round(mb / (tHF / 1e3)),
      speedup: round(tHF / tOurs),
      sameIds: a.length === b.length && a.every((x, i) => x === b[i]),
    };
  }
  ours.dispose();
  return out;
}

function gaussians(n: number, seed: number, scale: number): Float32Array {
  return seededRandom(seed).vec(n, scale);
}

// Two kinds of logits over the vocabulary: "peaked" is model-like (a Gaussian background with a
// standard deviation of 2 and 16 tokens lifted 8-14 above it, so a few tokens carry most of the
// mass), "flat" a plain Gaussian with a standard deviation of 3 (mass spread over thousands of
// tokens: the worst case for top-p).
function logitSets(n: number) {
  const peaked = Array.from({ length: 8 }, (_, i) => {
    const l = gaussians(n, i + 1, 2), lift = gaussians(32, 100 + i, 1);
    for (let k = 0; k < 16; k++) l[Math.floor(Math.abs(lift[2 * k]) * 9973 * (k + 1)) % n] += 11 + 3 * Math.tanh(lift[2 * k + 1]);
    return l;
  });
  const flat = Array.from({ length: 8 }, (_, i) => gaussians(n, 50 + i, 3));
  return { peaked, flat };
}

async function samplerBench() {
  const N = 151_936, STEPS = 200;
  const sets = logitSets(N);
  const configs: Record<string, SamplingOptions> = {
    greedy: { temperature: 0 },
    'temperature 0.8': { temperature: 0.8 },
    'top-k 40, top-p 0.95, min-p 0.05, T 0.8, repeat 1.1': { topK: 40, topP: 0.95, minP: 0.05, temperature: 0.8, repeatPenalty: 1.1 },
    'top-p 0.9 (whole vocabulary)': { topP: 0.9 },
    'min-p 0.05': { minP: 0.05 },
  };
  const out: Record<string, Record<string, number>> = {}, cpuOut: Record<string, Record<string, number>> = {};
  for (const [kind, logits] of Object.entries(sets)) {
    out[kind] = {};
    cpuOut[kind] = {};
    for (const [label, opts] of Object.entries(configs)) {
      const s = await Sampler.create(N, { ...opts, seed: 1, penaltyLastN: 64 });
      for (let i = 0; i < 20; i++) s.accept(s.sample(logits[i % 8]));  // warm up, fill the penalty window
      const t0 = performance.now(), c0 = process.cpuUsage();
      for (let i = 0; i < STEPS; i++) s.accept(s.sample(logits[i % 8]));
      const cpu = process.cpuUsage(c0);
      out[kind][label] = round((performance.now() - t0) / STEPS, 3);
      cpuOut[kind][label] = round((cpu.user + cpu.system) / 1e3 / STEPS, 3);
      s.dispose();
    }
  }
  return {
    vocabulary: N, steps: STEPS, msPerToken: out, cpuMsPerToken: cpuOut,
    note: 'per sample() call, including the copy of the logits into WebAssembly memory; cpuMs is this process\'s CPU time (steadier than wall time on a shared machine)',
  };
}

export default async function bench() {
  if (process.env.WEBMOE_BENCH_ONLY === 'sampler') return { sampler: await samplerBench() };
  const english = brownText(40);
  let mixed = '';
  while (mixed.length < english.length) mixed += ALL_TEXTS.join('\n') + '\n';
  const texts = { 'english (Brown corpus)': english, 'mixed (test corpus: scripts, code, emoji, numbers)': mixed };
  return {
    note: 'MB/s of UTF-8 input, best of 3 runs after a warm-up, both tokenizers in this process on the same text and vocabulary; ' +
      'sameIds is false on the mixed text only where the two differ by design (special-token strings, Qwen\'s NFC normalization; see src/tokenizer/hf.test.ts)',
    tokenizer: {
      llama3: await tokenizerBench('llama3', texts),
      qwen3: await tokenizerBench('qwen3', texts),
      gpt2: await tokenizerBench('gpt2', texts),
    },
    sampler: await samplerBench(),
  };
}
