// The same checks run in Node (by e2e/wasm.spec.ts) and in a browser worker (wasm-worker.ts):
// tokenize and stream-decode texts with a vocabulary, and draw seeded samples. The spec compares
// the two results, which must be identical.
import { readGGUF } from '../../src/gguf/reader.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import { Sampler, type SamplingOptions } from '../../src/sampler/sampler.ts';
import { Tokenizer } from '../../src/tokenizer/tokenizer.ts';
import { seededRandom } from '../../src/util/random.ts';

export interface WasmInput {
  vocab: Uint8Array;
  texts: string[];
}

export interface WasmReport {
  ids: number[][];
  special: number[][];
  decoded: string[];
  streamed: string[][];
  sampled: Record<string, number[]>;
  stopped: string[];
  /** Whole text of each sampled sequence. */
  full: string[];
}

/** Deterministic logits (src/util/random.ts), a fresh vector per step. */
export function logits(n: number, seed: number): Float32Array {
  return seededRandom(seed).vec(n, 3);
}

export const SAMPLER_CASES: Record<string, SamplingOptions> = {
  'temperature 1, seed 1': { temperature: 1, seed: 1 },
  'temperature 0.7, seed 2^40 + 5': { temperature: 0.7, seed: 2 ** 40 + 5 },
  'top-k 40, top-p 0.95, min-p 0.05, repeat 1.1, seed 7': { topK: 40, topP: 0.95, minP: 0.05, temperature: 0.8, repeatPenalty: 1.1, seed: 7 },
  'top-p 0.9, seed 9': { topP: 0.9, seed: 9 },
  'min-p 0.1, presence 0.5, frequency 0.2, seed 11': { minP: 0.1, presencePenalty: 0.5, frequencyPenalty: 0.2, seed: 11 },
};

export async function runWasmChecks(input: WasmInput): Promise<WasmReport> {
  const tok = await Tokenizer.fromGGUF(await readGGUF(bytesSource(input.vocab)));
  const ids = input.texts.map((t) => Array.from(tok.encode(t)));
  const special = input.texts.map((t) => Array.from(tok.encode(t, { addSpecial: true, parseSpecial: true })));
  const decoded = ids.map((x) => tok.decode(x));
  const streamed = ids.map((x) => {
    const d = tok.createDecoder();
    const parts = x.map((id) => d.push(id));
    parts.push(d.flush());
    d.dispose();
    return parts;
  });
  const steps = Array.from({ length: 24 }, (_, i) => logits(tok.nVocab, 1000 + i));
  const sampled: Record<string, number[]> = {};
  const stopped: string[] = [], full: string[] = [];
  for (const [name, opts] of Object.entries(SAMPLER_CASES)) {
    const s = await Sampler.create(tok.nVocab, opts);
    sampled[name] = steps.map((l) => { const id = s.sample(l); s.accept(id); return id; });
    // Stop strings over the text of the sampled tokens.
    const m = s.stopMatcher([tok.decode(sampled[name].slice(10, 12))]);
    const d = tok.createDecoder();
    stopped.push(sampled[name].map((id) => m.push(d.push(id))).join('') + m.flush());
    full.push(tok.decode(sampled[name]));
    m.dispose(); d.dispose(); s.dispose();
  }
  tok.dispose();
  return { ids, special, decoded, streamed, sampled, stopped, full };
}
