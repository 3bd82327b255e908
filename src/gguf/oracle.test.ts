// Our header reader against two readers we did not write, on the same factory files: gguf-py's
// GGUFReader (llama.cpp's Python package) and npm @huggingface/gguf. Every metadata entry (type,
// item type, value), every tensor (name, shape, type, offset, bytes) and the data offset must agree.
import { gguf as hfGGUF } from '@huggingface/gguf';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, fixtures, type Fixture } from '../../tools/factory/fixtures.ts';
import { type PyGGUF, pyReadGGUF } from '../../tools/oracle/gguf-py-reader.ts';
import { readGGUF } from './reader.ts';
import { bytesSource } from './source.ts';
import { GGUFValueType, typeName, type GGUFFile, type GGUFScalar } from './types.ts';

let files: Fixture[];
let py: Map<string, PyGGUF>;
const ours = new Map<string, GGUFFile>();

beforeAll(async () => {
  files = fixtures();
  py = new Map(pyReadGGUF(files.map((f) => f.path)).map((p) => [p.path, p]));
  for (const f of files) ours.set(f.label, await readGGUF(bytesSource(f.bytes, f.label)));
});

const FLOATS = new Set([GGUFValueType.FLOAT32, GGUFValueType.FLOAT64]);

/** Our scalar in gguf-py's JSON encoding: integers as decimal text, floats as numbers to compare. */
function asPy(type: GGUFValueType, v: GGUFScalar): string | boolean | number {
  if (type === GGUFValueType.STRING || type === GGUFValueType.BOOL) return v as string | boolean;
  if (FLOATS.has(type)) return v as number;
  return (typeof v === 'bigint' ? v : BigInt(v as number)).toString();
}
const pyScalar = (type: GGUFValueType, v: string | boolean) => (FLOATS.has(type) ? Number(v) : v);

describe('header reader agrees with gguf-py', () => {
  it.each(FIXTURES.map((f, i) => [f.label, i] as const))('%s', (_label, i) => {
    const f = files[i];
    const p = py.get(f.path)!;
    const g = ours.get(f.label)!;
    expect(p, f.label).toBeDefined();
    expect(g.version).toBe(p.version);
    expect(g.alignment).toBe(p.alignment);
    expect(g.dataOffset).toBe(p.dataOffset);
    expect(g.headerBytes).toBe(p.dataOffset);
    expect(String(g.tensors.length)).toBe(p.tensorCount);
    expect(String(g.metadata.size)).toBe(p.kvCount);
    // Metadata: same keys in the same order, same types, same values.
    expect([...g.metadata.keys()]).toEqual(p.fields.map((x) => x.key));
    for (const pf of p.fields) {
      const e = g.metadata.get(pf.key)!;
      expect(e.type, pf.key).toBe(pf.type);
      if (pf.type === GGUFValueType.ARRAY) {
        expect(e.itemType, pf.key).toBe(pf.itemType);
        const it = pf.itemType as GGUFValueType;
        expect((e.value as GGUFScalar[]).map((v) => asPy(it, v)), pf.key).toEqual((pf.value as (string | boolean)[]).map((v) => pyScalar(it, v)));
      } else {
        expect(asPy(e.type, e.value as GGUFScalar), pf.key).toEqual(pyScalar(pf.type, pf.value as string | boolean));
      }
    }
    // Tensor infos, in file order.
    expect(g.tensors.map((t) => t.name)).toEqual(p.tensors.map((t) => t.name));
    g.tensors.forEach((t, k) => {
      const pt = p.tensors[k];
      expect(t.shape.map(String), t.name).toEqual(pt.shape);
      expect(t.type, t.name).toBe(pt.type);
      expect(typeName(t.type), t.name).toBe(pt.typeName);
      expect(String(t.nElements), t.name).toBe(pt.nElements);
      expect(String(t.nBytes), t.name).toBe(pt.nBytes);
      expect(String(g.dataOffset + t.offset), t.name).toBe(pt.dataOffset);
    });
    // The last tensor ends inside the file, padded to the alignment at most.
    const last = p.tensors[p.tensors.length - 1];
    expect(Number(last.dataOffset) + Number(last.nBytes)).toBeLessThanOrEqual(p.fileBytes);
    expect(p.fileBytes - (Number(last.dataOffset) + Number(last.nBytes))).toBeLessThan(p.alignment);
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
