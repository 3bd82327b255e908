// generate --stop and --repeat-penalty (the sampler's pieces of the generate command). Added by
// the tokenizer/sampler owner on top of the uncommitted generate.ts rewrite (text prompts, sampling,
// WebGPU backend): commit this file together with that generate.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeModel } from '../../tools/factory/make-model.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { ReferenceModel } from '../reference/model.ts';
import { main } from './main.ts';

async function runJson(...argv: string[]) {
  let out = '', err = '';
  const code = await main(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  expect(err).toBe('');
  expect(code).toBe(0);
  return JSON.parse(out) as { ids: number[]; text: string; stop: string; promptIds: number[] };
}

describe('generate --stop, --repeat-penalty', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webmoe-gen-'));
  // Tied embeddings: a random tied model mostly repeats its last token, which the penalty must break.
  const bytes = makeModel({ arch: 'llama', type: GGMLType.F32, nMerges: 300, seed: 9, tied: true });
  const model = join(dir, 'm.gguf');
  writeFileSync(model, bytes);

  it('stops before a stop string that spans tokens', async () => {
    const base = ['generate', '--model', model, '--prompt', 'Hello there', '--max-tokens', '16', '--ignore-eos', '--json'];
    const full = await runJson(...base);
    expect(full.stop).toBe('max-tokens');
    // A stop string made of the text of two generated tokens.
    const { Tokenizer } = await import('../tokenizer/tokenizer.ts');
    const { readGGUF } = await import('../gguf/reader.ts');
    const tok = await Tokenizer.fromGGUF(await readGGUF(bytesSource(bytes)));
    const stopText = tok.decode(full.ids.slice(6, 8));
    tok.dispose();
    const cut = await runJson(...base, '--stop', stopText, '--stop', 'never-generated-xyz');
    expect(cut.stop).toBe('stop-string');
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stopText)));
    expect(full.ids.slice(0, cut.ids.length)).toEqual(cut.ids);
    expect(cut.ids.length).toBeLessThanOrEqual(8);
  }, 120_000);

  it('--repeat-penalty with greedy: the argmax of the penalized logits (llama.cpp definition)', async () => {
    const prompt = [5, 17, 42, 5], lastN = 8, n = 10;
    const ref = await ReferenceModel.load(bytesSource(bytes), { nCtx: prompt.length + n });
    const expected = (penalty: number) => {
      ref.reset();
      const hist = [...prompt], want: number[] = [];
      let [logits] = ref.forward(prompt);
      for (let i = 0; i < n; i++) {
        const l = Float32Array.from(logits);
        for (const id of new Set(hist.slice(-lastN))) l[id] = l[id] <= 0 ? l[id] * penalty : l[id] / penalty;
        let best = 0;
        for (let k = 1; k < l.length; k++) if (l[k] > l[best]) best = k;
        want.push(best);
        hist.push(best);
        [logits] = ref.forward([best]);
      }
      return want;
    };
    const gen = (penalty: number) => runJson('generate', '--model', model, '--prompt-ids', prompt.join(','), '--max-tokens', String(n),
      '--ignore-eos', '--repeat-penalty', String(penalty), '--repeat-last-n', String(lastN), '--json');
    const plain = (await gen(1)).ids;
    let changed = 0;
    for (const penalty of [1.5, 4, 20]) {
      const j = await gen(penalty);
      expect(j.ids).toEqual(expected(penalty));
      if (j.ids.join() !== plain.join()) changed++;
    }
    expect(changed).toBeGreaterThan(0);  // the penalty changed the text at least once
  }, 120_000);
});
