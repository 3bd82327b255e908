// Scale keys count only for the architectures llama.cpp reads them for.
import { describe, expect, it } from 'vitest';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import type { GGUFEntry } from '../gguf/types.ts';
import { gv, writeGGUF } from '../gguf/writer.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { ModelFormatError } from './hparams.ts';
import { archHParams } from './plan.ts';

/** A tiny factory model's header (no tensors) with its metadata edited. */
async function header(arch: string, edit: (m: Map<string, GGUFEntry>) => void) {
  const file = await readGGUF(bytesSource(makeModel({ arch, hp: { nLayer: 1 }, nMerges: 10 })));
  const meta = new Map(file.metadata);
  edit(meta);
  return readGGUF(bytesSource(writeGGUF(meta, [])));
}

describe('scale hyperparameters', () => {
  const extra = (arch: string) => (m: Map<string, GGUFEntry>) => {
    m.set(`${arch}.embedding_scale`, gv.f32(12));
    m.set(`${arch}.attention.scale`, gv.f32(0.5));
  };
  it('are ignored on llama, which llama.cpp reads none of', async () => {
    const hp = archHParams(await header('llama', extra('llama')));
    expect([hp.embeddingScale, hp.attentionScale]).toEqual([0, 0]);
  });
  it('are read on granitemoe', async () => {
    const hp = archHParams(await header('granitemoe', extra('granitemoe')));
    expect([hp.embeddingScale, hp.attentionScale]).toEqual([12, 0.5]);
  });
  it('granitemoe without logit_scale is refused', async () => {
    const file = await header('granitemoe', (m) => m.delete('granitemoe.logit_scale'));
    expect(() => archHParams(file)).toThrow(ModelFormatError);
  });
});
