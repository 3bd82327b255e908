// `webmoe tokenize`, run in-process: ids equal llama.cpp's for the same vocabulary and text (with
// and without special-token parsing, from --text and --text-file), and the usage/error paths.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOk, llamaTokenizer } from '../../tools/oracle/tokenize.ts';
import { vocabFile } from '../../tools/vocab/index.ts';
import { gv, writeGGUF } from '../gguf/writer.ts';
import { main } from './main.ts';

async function run(...argv: string[]) {
  let out = '', err = '';
  const code = await main(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'webmoe-tokenize-'));

describe('webmoe tokenize', () => {
  it('prints the ids llama.cpp gives', async () => {
    const model = await vocabFile('qwen3');
    const text = 'Hello <|im_start|>user\n你好 🦙 <think>x</think>';
    const file = join(dir, 'text.txt');
    writeFileSync(file, text);
    const [plain, special] = await llamaTokenizer(model, [
      { type: 'tokenize', text, special: false }, { type: 'tokenize', text, special: true },
    ]);
    const a = await run('tokenize', '--model', model, '--text', text);
    expect(a.err).toBe('');
    expect(a.code).toBe(0);
    expect(JSON.parse(a.out)).toEqual({ ids: expectOk(plain, 'tokenize').ids });
    const b = await run('tokenize', '--model', model, '--text-file', file, '--special');
    expect(JSON.parse(b.out)).toEqual({ ids: expectOk(special, 'tokenize').ids });
    expect(expectOk(special, 'tokenize').ids).not.toEqual(expectOk(plain, 'tokenize').ids);
  }, 60_000);

  it('adds BOS with --add-special when the model asks for it', async () => {
    const model = await vocabFile('llama2');
    const [info, plain] = await llamaTokenizer(model, [{ type: 'info' }, { type: 'tokenize', text: 'Hi', special: false }]);
    const { bos, addBos } = expectOk(info, 'info').info;
    expect(addBos).toBe(true);
    const r = await run('tokenize', '--model', model, '--text', 'Hi', '--add-special');
    expect(JSON.parse(r.out)).toEqual({ ids: [bos, ...expectOk(plain, 'tokenize').ids] });
  }, 60_000);

  it('usage errors exit 2, a file without a vocabulary exits 1 with a named error', async () => {
    const model = await vocabFile('gpt2');
    expect((await run('tokenize', '--text', 'x')).code).toBe(2);
    expect((await run('tokenize', '--model', model)).code).toBe(2);
    expect((await run('tokenize', '--model', model, '--text', 'x', '--text-file', 'y')).code).toBe(2);
    const noVocab = join(dir, 'novocab.gguf');
    writeFileSync(noVocab, writeGGUF([['general.architecture', gv.str('llama')]], []));
    const r = await run('tokenize', '--model', noVocab, '--text', 'x');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^webmoe tokenize: TokenizerError \[no-vocab\]: .*no vocabulary/);
    const h = await run('help', 'tokenize');
    expect(h.out).toMatch(/^Usage: webmoe tokenize /);
  });
});
