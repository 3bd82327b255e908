// embed.wgsl against src/gguf's dequantizer (itself checked against gguf-py), for every type.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dequantize } from '../../gguf/dequant.ts';
import { quantize } from '../../gguf/quant.ts';
import { GGMLType, typeName } from '../../gguf/types.ts';
import { GPU_TYPES } from '../layout.ts';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { readF32, relErr, rng, testSession, upload, zeros } from '../testing.ts';
import { uploadWeight } from '../weights.ts';
import { embedOps } from './embed.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

const TYPES = Object.keys(GPU_TYPES).map(Number) as GGMLType[];

describe('embed.wgsl', () => {
  it.each(TYPES.map((type) => ({ type, name: typeName(type) })))('$name rows, scaled', async ({ type }) => {
    const k = GPU_TYPES[type]!.super ? 512 : 160, vocab = 23;
    const r = rng(type + 7);
    const bytes = quantize(type, r.vec(vocab * k));
    const table = dequantize(type, bytes, vocab * k);
    const w = uploadWeight(session.device, session.buffers, 'emb', type, k, vocab, 1, bytes, session.limits.maxStorageBufferBindingSize);
    const toks = Uint32Array.from([5, 0, 22, 5, 13]);
    const y = zeros(session, 4 * toks.length * k);
    runOps(session, await embedOps(session, { weight: w, tokens: upload(session, toks), count: toks.length, y, scale: 0.75 }));
    const got = await readF32(session, y, toks.length * k);
    const want = new Float64Array(toks.length * k);
    toks.forEach((t, i) => { for (let j = 0; j < k; j++) want[i * k + j] = Math.fround(table[t * k + j]) * 0.75; });
    // one f32 rounding of d*q + m in ggml; a second one for the high halves here (see quant_common.wgsl)
    expect(relErr(got, want)).toBeLessThan(1e-6);
  });

  it('looks rows up across a table split over several buffers', async () => {
    const k = 64, vocab = 300, type = GGMLType.Q8_0;
    const bytes = quantize(type, rng(3).vec(vocab * k));
    const table = dequantize(type, bytes, vocab * k);
    // parts hold multiples of 64 rows: 64 rows of 64 Q8_0 values take 4352 B, so a binding limit
    // of 5000 B splits 300 rows into 5 parts
    const w = uploadWeight(session.device, session.buffers, 'emb', type, k, vocab, 1, bytes, 5000);
    expect(w.parts.length).toBeGreaterThan(2);
    const toks = Uint32Array.from([0, 299, 17, 130, 64, 63]);
    const y = zeros(session, 4 * toks.length * k);
    runOps(session, await embedOps(session, { weight: w, tokens: upload(session, toks), count: toks.length, y }));
    const got = await readF32(session, y, toks.length * k);
    toks.forEach((t, i) => expect(Array.from(got.subarray(i * k, (i + 1) * k))).toEqual(Array.from(table.subarray(t * k, (t + 1) * k))));
  });
});
