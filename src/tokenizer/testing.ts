// Helpers shared by the tokenizer tests: a Tokenizer for a vocabulary GGUF on disk.
import { readFileSync } from 'node:fs';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { Tokenizer } from './tokenizer.ts';

export async function tokenizerFromFile(path: string): Promise<Tokenizer> {
  return Tokenizer.fromGGUF(await readGGUF(bytesSource(readFileSync(path), path)));
}

/** First few differences between two lists of id lists, for failure messages. */
export function firstDiffs(texts: string[], got: ArrayLike<number>[], want: ArrayLike<number>[], max = 3): string[] {
  const out: string[] = [];
  for (let i = 0; i < texts.length && out.length < max; i++) {
    const a = Array.from(got[i]), b = Array.from(want[i]);
    if (a.length === b.length && a.every((x, k) => x === b[k])) continue;
    out.push(`${JSON.stringify(texts[i].slice(0, 60))}: ours [${a.slice(0, 24)}] llama.cpp [${b.slice(0, 24)}]`);
  }
  return out;
}
