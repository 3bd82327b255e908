// Dequantization and quantization checked against gguf-py, llama.cpp's own Python port of the
// block formats (an oracle we did not write), and round-trip fidelity per type.
import { describe, expect, it } from 'vitest';
import { ggufPy } from '../../tools/oracle/llama-src.ts';
import { dequantize } from './dequant.ts';
import { f32ToF16 } from './half.ts';
import { quantize } from './quant.ts';
import { GGMLType, TYPE_TRAITS, typeName } from './types.ts';
import { seededRandom, type Random } from '../util/random.ts';


/** Byte offsets of f16 scale fields per block, so random blocks carry finite, sane scales. */
const F16_FIELDS: Partial<Record<GGMLType, number[]>> = {
  [GGMLType.Q4_0]: [0], [GGMLType.Q5_0]: [0], [GGMLType.Q8_0]: [0],
  [GGMLType.Q4_1]: [0, 2], [GGMLType.Q5_1]: [0, 2],
  [GGMLType.Q2_K]: [80, 82], [GGMLType.Q3_K]: [108], [GGMLType.Q4_K]: [0, 2], [GGMLType.Q5_K]: [0, 2],
  [GGMLType.Q6_K]: [208], [GGMLType.IQ4_NL]: [0], [GGMLType.IQ4_XS]: [0],
};

function randomBlocks(type: GGMLType, nBlocks: number, r: Random): Uint8Array {
  const tr = TYPE_TRAITS[type]!;
  const b = new Uint8Array(nBlocks * tr.typeSize);
  for (let i = 0; i < b.length; i++) b[i] = r.int(256);
  const v = new DataView(b.buffer);
  if (type === GGMLType.F32) for (let i = 0; i < b.length; i += 4) v.setFloat32(i, r.gauss(), true);
  if (type === GGMLType.F16) for (let i = 0; i < b.length; i += 2) v.setUint16(i, f32ToF16(r.gauss()), true);
  if (type === GGMLType.BF16) for (let i = 0; i < b.length; i += 2) v.setUint16(i, b[i + 1] & 0x7f ? v.getUint16(i, true) & 0xbfff : 0, true);
  for (let blk = 0; blk < nBlocks; blk++) {
    for (const f of F16_FIELDS[type] ?? []) v.setUint16(blk * tr.typeSize + f, f32ToF16((r.uniform() - 0.3) * 0.1), true);
    if (type === GGMLType.MXFP4) b[blk * tr.typeSize] = 100 + r.int(40); // E8M0 scales 2^-28 .. 2^11
  }
  return b;
}

/** gguf-py's dequantization of raw blocks. */
function pyDequant(type: GGMLType, bytes: Uint8Array): Float32Array {
  const out = ggufPy(
    'import numpy as np\nfrom gguf import quants, GGMLQuantizationType as T\n' +
    `b = np.frombuffer(sys.stdin.buffer.read(), dtype=np.uint8)\n` +
    `sys.stdout.buffer.write(quants.dequantize(b, T(${type})).astype(np.float32).tobytes())`, bytes);
  return new Float32Array(out.buffer, out.byteOffset, out.byteLength / 4);
}

function pyQuant(type: GGMLType, x: Float32Array): Uint8Array {
  const out = ggufPy(
    'import numpy as np\nfrom gguf import quants, GGMLQuantizationType as T\n' +
    `x = np.frombuffer(sys.stdin.buffer.read(), dtype=np.float32)\n` +
    `sys.stdout.buffer.write(quants.quantize(x, T(${type})).tobytes())`, new Uint8Array(x.buffer));
  return new Uint8Array(out);
}

const DEQUANT_TYPES = [GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1,
  GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K,
  GGMLType.IQ4_NL, GGMLType.IQ4_XS, GGMLType.MXFP4];

describe('dequantize equals gguf-py', () => {
  it.each(DEQUANT_TYPES.map((t) => [typeName(t), t] as const))('%s', (_n, type) => {
    const r = seededRandom(type + 1);
    const nBlocks = 37; // odd on purpose
    const bytes = randomBlocks(type, nBlocks, r);
    const n = nBlocks * TYPE_TRAITS[type]!.blockSize;
    const ours = dequantize(type, bytes, n);
    const theirs = pyDequant(type, bytes);
    expect(theirs.length).toBe(n);
    let bad = 0;
    for (let i = 0; i < n; i++) if (Math.abs(ours[i] - theirs[i]) > 1e-6 * Math.max(1, Math.abs(theirs[i]))) bad++;
    expect(bad).toBe(0);
  });
});

describe('the blocks our quantizer writes decode the same in gguf-py (the types it fits, not copies)', () => {
  it.each([GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.IQ4_NL, GGMLType.IQ4_XS].map((t) => [typeName(t), t] as const))('%s', (_n, type) => {
    const r = seededRandom(200 + type);
    const x = Float32Array.from({ length: 256 * 11 }, () => r.gauss() * 0.05);
    const bytes = quantize(type, x);
    const ours = dequantize(type, bytes, x.length), theirs = pyDequant(type, bytes);
    expect(Array.from(ours)).toEqual(Array.from(theirs));
  });
});

describe('quantize equals gguf-py byte for byte (the types it quantizes)', () => {
  it.each([GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.MXFP4]
    .map((t) => [typeName(t), t] as const))('%s', (_n, type) => {
    const r = seededRandom(100 + type);
    const x = Float32Array.from({ length: 32 * 41 }, () => r.gauss() * 0.05);
    const ours = quantize(type, x), theirs = pyQuant(type, x);
    expect(ours.length).toBe(theirs.length);
    let diff = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) diff++;
    expect(diff).toBe(0);
  });
});

describe('quantize round trip stays within the type resolution', () => {
  // Relative RMS error bound per type (of the Gaussian input's RMS).
  const BOUND: [GGMLType, number][] = [
    [GGMLType.F32, 0], [GGMLType.F16, 1e-3], [GGMLType.BF16, 4e-3], [GGMLType.Q8_0, 0.01],
    [GGMLType.Q5_0, 0.06], [GGMLType.Q5_1, 0.05], [GGMLType.Q4_0, 0.12], [GGMLType.Q4_1, 0.1],
    [GGMLType.Q6_K, 0.04], [GGMLType.Q5_K, 0.06], [GGMLType.Q4_K, 0.12],
    [GGMLType.Q3_K, 0.25], [GGMLType.Q2_K, 0.45], [GGMLType.IQ4_NL, 0.12], [GGMLType.IQ4_XS, 0.12],
    [GGMLType.MXFP4, 0.2],
  ];
  it.each(BOUND.map(([t, b]) => [typeName(t), t, b] as const))('%s', (_n, type, bound) => {
    const r = seededRandom(7 + type);
    const x = Float32Array.from({ length: 256 * 9 }, () => r.gauss() * 0.02);
    const y = dequantize(type, quantize(type, x), x.length);
    let se = 0, ss = 0;
    for (let i = 0; i < x.length; i++) { se += (x[i] - y[i]) ** 2; ss += x[i] ** 2; }
    const rel = Math.sqrt(se / ss);
    expect(rel).toBeLessThanOrEqual(bound);
    if (type !== GGMLType.F32) expect(rel).toBeGreaterThan(0); // it really quantized
  });
});
