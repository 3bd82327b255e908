// Our header reader against two readers we did not write, on the same factory files: gguf-py's
// GGUFReader (llama.cpp's Python package) and npm @huggingface/gguf. Every metadata entry (type,
// item type, value), every tensor (name, shape, type, offset, bytes) and the data offset must agree.
import { gguf as hfGGUF } from '@huggingface/gguf';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, fixtures, type Fixture } from '../../tools/factory/fixtures.ts';
import { diffAgainstPy, type PyGGUF, pyReadGGUF } from '../../tools/oracle/gguf-py-reader.ts';
import { readGGUF } from './reader.ts';
import { bytesSource } from './source.ts';
import { GGUFValueType, type GGUFFile } from './types.ts';

let files: Fixture[];
let py: Map<string, PyGGUF>;
const ours = new Map<string, GGUFFile>();

beforeAll(async () => {
  files = fixtures();
  py = new Map(pyReadGGUF(files.map((f) => f.path)).map((p) => [p.path, p]));
  for (const f of files) ours.set(f.label, await readGGUF(bytesSource(f.bytes, f.label)));
});

describe('header reader agrees with gguf-py', () => {
  it.each(FIXTURES.map((f, i) => [f.label, i] as const))('%s', (_label, i) => {
    const f = files[i];
    const p = py.get(f.path)!;
    const g = ours.get(f.label)!;
    expect(p, f.label).toBeDefined();
    expect(diffAgainstPy(g, p)).toEqual([]);
    // diffAgainstPy compares what both read; also pin down what it does not: the header is the
    // data offset, and the last tensor ends inside the file, padded to the alignment at most.
    expect(g.headerBytes).toBe(p.dataOffset);
    expect(p.fields.length).toBeGreaterThan(15);
    expect(p.tensors.length).toBeGreaterThan(10);
    const last = p.tensors[p.tensors.length - 1];
    expect(Number(last.dataOffset) + Number(last.nBytes)).toBeLessThanOrEqual(p.fileBytes);
    expect(p.fileBytes - (Number(last.dataOffset) + Number(last.nBytes))).toBeLessThan(p.alignment);
  });

  it('the comparison itself sees a wrong offset, value or type', () => {
    const f = files[0];
    const g = ours.get(f.label)!;
    const bad: GGUFFile = {
      ...g,
      metadata: new Map([...g.metadata].map(([k, e]) => [k, k.endsWith('.block_count') ? { ...e, value: 3 } : e])),
      tensors: g.tensors.map((t, k) => (k === 1 ? { ...t, offset: t.offset + 32 } : k === 2 ? { ...t, type: t.type + 1 } : t)),
    };
    const d = diffAgainstPy(bad, py.get(f.path)!);
    expect(d.filter((x) => x.startsWith('value of llama.block_count'))).toHaveLength(1);
    expect(d.filter((x) => x.startsWith(`offset of ${g.tensors[1].name}`))).toHaveLength(1);
    expect(d.filter((x) => x.startsWith(`type of ${g.tensors[2].name}`))).toHaveLength(1);
  });

  it('covers every fixture, both versions and several alignments', () => {
    expect(files.length).toBe(FIXTURES.length);
    expect(new Set([...py.values()].map((p) => p.version))).toEqual(new Set([2, 3]));
    expect(new Set([...py.values()].map((p) => p.alignment)).size).toBeGreaterThanOrEqual(3);
  });
});

describe('header reader agrees with @huggingface/gguf', () => {
  it.each(FIXTURES.map((f, i) => [f.label, i] as const))('%s', async (_label, i) => {
    const f = files[i];
    const g = ours.get(f.label)!;
    const hf = await hfGGUF(f.path, { allowLocalFile: true, typedMetadata: true });
    expect(Number(hf.tensorDataOffset)).toBe(g.dataOffset);
    expect(hf.metadata.version).toBe(g.version);
    expect(hf.metadata.tensor_count).toBe(BigInt(g.tensors.length));
    expect(hf.metadata.kv_count).toBe(BigInt(g.metadata.size));
    const typed = hf.typedMetadata as Record<string, { value: unknown; type: number; subType?: number }>;
    for (const [key, e] of g.metadata) {
      const h = typed[key];
      expect(h, key).toBeDefined();
      expect(h.type, key).toBe(e.type);
      if (e.type === GGUFValueType.ARRAY) expect(h.subType, key).toBe(e.itemType);
      expect(h.value, key).toEqual(e.value);
    }
    // hf adds version/tensor_count/kv_count as pseudo-entries; every other key must be ours.
    const theirs = Object.keys(typed).filter((k) => !['version', 'tensor_count', 'kv_count'].includes(k));
    expect(theirs.sort()).toEqual([...g.metadata.keys()].sort());
    expect(hf.tensorInfos.length).toBe(g.tensors.length);
    hf.tensorInfos.forEach((t, k) => {
      const o = g.tensors[k];
      expect(t.name).toBe(o.name);
      expect(t.n_dims).toBe(o.shape.length);
      expect(t.shape.map(Number)).toEqual(o.shape);
      expect(Number(t.dtype)).toBe(o.type);
      expect(Number(t.offset)).toBe(o.offset);
    });
  });
});
