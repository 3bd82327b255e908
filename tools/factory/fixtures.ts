// Factory models that the GGUF, model and CLI tests share: every supported architecture, several
// weight types, both GGUF versions, more than one alignment, tied and untied heads. Made at test
// time (a few hundred ms each) and written to a temporary folder for readers that want a path.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType, typeName } from '../../src/gguf/types.ts';
import { type FactoryOptions, makeModel } from './make-model.ts';

export interface FixtureCase {
  label: string;
  options: FactoryOptions;
}

const c = (options: FactoryOptions): FixtureCase => {
  const bits = [options.arch, typeName(options.type ?? GGMLType.F32)];
  if (options.hp?.nExpert) bits.push(`${options.hp.nExpert}x${options.hp.nExpertUsed}`);
  if (options.tied) bits.push('tied');
  if (options.version) bits.push(`v${options.version}`);
  if (options.alignment) bits.push(`align${options.alignment}`);
  return { label: bits.join('-'), options };
};

/** One or more files per architecture; `seed` differs so no two files share weights. Small
 *  vocabularies (nMerges) keep the headers and the tests quick. */
export const FIXTURES: FixtureCase[] = [
  c({ arch: 'llama', type: GGMLType.F32, seed: 1, nMerges: 200 }),
  c({ arch: 'llama', type: GGMLType.Q4_K, seed: 2, tied: true, version: 2 }),
  c({ arch: 'llama', type: GGMLType.Q8_0, seed: 3, nMerges: 300, hp: { nExpert: 8, nExpertUsed: 2 } }),
  c({ arch: 'qwen2', type: GGMLType.Q4_0, seed: 4, nMerges: 100, alignment: 64 }),
  c({ arch: 'qwen3', type: GGMLType.Q6_K, seed: 5, nMerges: 100, tied: true }),
  c({ arch: 'qwen2moe', type: GGMLType.Q4_K, seed: 6, nMerges: 100 }),
  c({ arch: 'qwen3moe', type: GGMLType.Q5_K, seed: 7, nMerges: 100, version: 2, alignment: 128 }),
  c({ arch: 'olmoe', type: GGMLType.Q8_0, seed: 8, nMerges: 100 }),
  c({ arch: 'granitemoe', type: GGMLType.F16, seed: 9, nMerges: 100, alignment: 8 }),
  c({ arch: 'grok', type: GGMLType.Q5_0, seed: 10, nMerges: 100 }),
  c({ arch: 'grok', type: GGMLType.BF16, seed: 11, nMerges: 50, hp: { nLayer: 1 }, version: 2 }),
  c({ arch: 'ernie4_5-moe', type: GGMLType.Q4_K, seed: 12, nMerges: 100, hp: { nFfShexp: 256 } }),
  c({ arch: 'olmoe', type: GGMLType.Q2_K, seed: 13, nMerges: 100 }),
  c({ arch: 'qwen2', type: GGMLType.Q3_K, seed: 14, nMerges: 50 }),
  // experts 96 wide: their down projections in IQ4_NL, as llama.cpp's quantizer falls back
  c({ arch: 'qwen3moe', type: GGMLType.IQ4_XS, seed: 15, nMerges: 100, hp: { nFfExp: 96 } }),
];

export interface Fixture extends FixtureCase {
  bytes: Uint8Array;
  path: string;
}

let made: Fixture[] | undefined;

/** The fixtures, made once per process and written to a fresh temporary folder. */
export function fixtures(): Fixture[] {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), 'webmoe-fixtures-'));
  made = FIXTURES.map((f) => {
    const bytes = makeModel(f.options);
    const path = join(dir, `${f.label}.gguf`);
    writeFileSync(path, bytes);
    return { ...f, bytes, path };
  });
  return made;
}
