// The demo's embedded default model (public/models): its greedy text, from the CPU reference, equals
// llama.cpp's token for token, and reads like English words (most of its words occur in the Brown
// corpus it was trained on, a list we did not make).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGGUF } from '../../src/gguf/reader.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import { fileSource } from '../../src/gguf/source-node.ts';
import { ReferenceModel } from '../../src/reference/model.ts';
import { Tokenizer } from '../../src/tokenizer/tokenizer.ts';
import { FlipProbe, agreement } from '../oracle/llamacpp-agreement.ts';
import { runJobs, type GreedyOutput } from '../oracle/llamacpp.ts';
import { brownDocuments } from './corpus.ts';

const MODEL = 'public/models/webmoe-tiny-moe.q8_0.gguf';
const PROMPTS = ['The', 'Once upon a time', 'He said that', 'In the morning the'];
const N_TOKENS = 32;

describe('the embedded default model', () => {
  let tok: Tokenizer;
  let promptIds: number[][];
  let oracle: GreedyOutput[];
  const source = fileSource(MODEL);

  beforeAll(async () => {
    tok = await Tokenizer.fromGGUF(await readGGUF(bytesSource(readFileSync(MODEL), MODEL)));
    promptIds = PROMPTS.map((p) => Array.from(tok.encode(p)));
    const results = await runJobs([
      ...PROMPTS.map((text) => ({ type: 'tokenize' as const, model: MODEL, text })),
      ...promptIds.map((prompt) => ({ type: 'greedy' as const, model: MODEL, prompt, nTokens: N_TOKENS, logits: true })),
    ]);
    const outs = results.map((r) => {
      if ('error' in r) throw r.error;
      return r.ok;
    });
    outs.slice(0, PROMPTS.length).forEach((o, i) => {
      if (o.type !== 'tokenize') throw new Error('expected a tokenize result');
      expect(promptIds[i], `tokens of ${JSON.stringify(PROMPTS[i])}`).toEqual(o.ids);
    });
    oracle = outs.slice(PROMPTS.length) as GreedyOutput[];
  }, 600_000);
  afterAll(() => source.close?.());

  it('greedy tokens equal llama.cpp', async () => {
    const probe = new FlipProbe();
    const model = await ReferenceModel.load(source, { numerics: 'ggml', nCtx: 64, probe });
    PROMPTS.forEach((_, i) => {
      model.reset();
      probe.reset(new Set());
      const a = agreement(model, probe, promptIds[i], oracle[i]);
      // Equal, or at most one step explained by an ambiguous rounding (see llamacpp-agreement.ts).
      expect(a.mismatch, `prompt ${JSON.stringify(PROMPTS[i])}`).toBeUndefined();
      expect(a.allowances.length).toBeLessThanOrEqual(1);
    });
  }, 600_000);

  it('writes English words', () => {
    const brown = new Set<string>();
    for (const d of brownDocuments()) for (const w of d.text.toLowerCase().match(/[a-z]+/g) ?? []) brown.add(w);
    const words = oracle.flatMap((o) => tok.decode(o.ids).toLowerCase().match(/[a-z]+/g) ?? []);
    const known = words.filter((w) => brown.has(w)).length;
    console.log(`default model: ${known}/${words.length} words in the Brown corpus:`, oracle.map((o) => tok.decode(o.ids)));
    expect(words.length).toBeGreaterThanOrEqual(40);
    expect(known / words.length).toBeGreaterThanOrEqual(0.8);
  });
});
