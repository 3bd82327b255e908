// A metadata string that begins with U+FEFF must survive reading: Llama 2's vocabulary has a token
// that is exactly U+FEFF, and TextDecoder drops a leading BOM unless told not to.
import { expect, it } from 'vitest';
import { readGGUF } from './reader.ts';
import { bytesSource } from './source.ts';
import { GGUFValueType } from './types.ts';
import { gv, writeGGUF } from './writer.ts';

it('keeps a leading U+FEFF in strings and string arrays', async () => {
  const bytes = writeGGUF([
    ['general.name', gv.str('\uFEFFname')],
    ['tokenizer.ggml.tokens', gv.arr(GGUFValueType.STRING, ['a', '\uFEFF', '\uFEFFb'])],
  ], []);
  const file = await readGGUF(bytesSource(bytes));
  expect(file.metadata.get('general.name')?.value).toBe('\uFEFFname');
  expect(file.metadata.get('tokenizer.ggml.tokens')?.value).toEqual(['a', '\uFEFF', '\uFEFFb']);
});
