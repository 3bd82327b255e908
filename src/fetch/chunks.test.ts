import { describe, expect, it } from 'vitest';
import { makeModel } from '../../tools/factory/make-model.ts';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { planModel } from '../model/plan.ts';
import { chunkAt, chunkEnds, chunksFromEnds, kindLetters, planChunks } from './chunks.ts';

const bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q4_K, seed: 2, hp: { nLayer: 2, nExpert: 8 } });
const file = await readGGUF(bytesSource(bytes));
const experts = planModel(file).expertTensors;
const isExpertTensor = (t: { name: string }) => [...experts].some((x) => x.name === t.name);

describe('chunk layout', () => {
  // 36 KiB per expert slice here: targets below, between and above whole multiples of it.
  it.each([4096, 40_000, 64 << 10, 100_000, 1 << 20])('target %i bytes: covers the file, keeps kinds apart, splits no expert needlessly', (target) => {
    const chunks = planChunks(file, bytes.length, { experts, target });
    // Contiguous from 0 to the end, indices in order.
    expect(chunks[0].offset).toBe(0);
    chunks.forEach((c, i) => {
      expect(c.index).toBe(i);
      expect(c.length).toBeGreaterThan(0);
      if (i > 0) expect(c.offset).toBe(chunks[i - 1].offset + chunks[i - 1].length);
    });
    expect(chunks.at(-1)!.offset + chunks.at(-1)!.length).toBe(bytes.length);
    expect(chunks[0].kind).toBe('header');
    expect(chunks.filter((c) => c.kind === 'header').at(-1)!.offset + chunks.filter((c) => c.kind === 'header').at(-1)!.length).toBe(file.dataOffset);

    // Each tensor, and each expert of an expert tensor, lies in the fewest chunks possible.
    for (const t of file.tensors) {
      const parts = isExpertTensor(t) ? t.shape[2] : 1;
      const per = t.nBytes / parts;
      for (let e = 0; e < parts; e++) {
        const start = file.dataOffset + t.offset + e * per;
        const first = chunkAt(chunks, start), last = chunkAt(chunks, start + per - 1);
        expect(last - first + 1, `${t.name} part ${e}`).toBe(Math.max(1, Math.ceil(per / target)));
        for (let i = first; i <= last; i++) expect(chunks[i].kind).toBe(isExpertTensor(t) ? 'expert' : 'dense');
      }
    }
    // Chunks stay within the target unless one unit alone is larger.
    for (const c of chunks) if (c.length > target) throw new Error(`chunk ${c.index} of ${c.length} bytes exceeds ${target}`);
    // Expert chunks stay within the (smaller) expert target: 1 MiB by default.
    for (const c of chunks.filter((x) => x.kind === 'expert')) expect(c.length).toBeLessThanOrEqual(Math.min(target, 1 << 20));
    // The manifest's form gives the same chunks back.
    expect(chunksFromEnds(chunkEnds(chunks), kindLetters(chunks))).toEqual(chunks);
  });

  it('keeps expert chunks to the expert target', () => {
    const chunks = planChunks(file, bytes.length, { experts, target: 1 << 20, expertTarget: 40_000 }); // one 36 KiB expert per chunk
    expect(chunks.filter((c) => c.kind === 'expert').length).toBe(2 * 3 * 8);
    expect(chunks.filter((c) => c.kind === 'dense').some((c) => c.length > 40_000)).toBe(true); // dense ones pack to 1 MiB
  });

  it('puts header and dense chunks before any expert chunk is needed', () => {
    const chunks = planChunks(file, bytes.length, { experts, target: 64 << 10 });
    const kinds = kindLetters(chunks);
    expect(kinds[0]).toBe('h');
    expect(kinds).toMatch(/^h+d+e+d+e+$/); // two layers: dense block, experts, dense block, experts
  });

  it('a file WebMoE cannot plan is cut into dense chunks only', () => {
    expect(kindLetters(planChunks(file, bytes.length, { target: 64 << 10 }))).toMatch(/^h+d+$/);
  });
});
