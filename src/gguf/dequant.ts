// CPU dequantization of GGML blocks to f32, one function per type, following the block layouts of
// ggml-common.h. The CPU reference and the kernel tests use these; the WebGPU kernels do the same
// arithmetic inside the shaders.
import { bf16ToF32, f16ToF32 } from './half.ts';
import { GGMLType, QK_K, TYPE_TRAITS, typeName } from './types.ts';

/** A tensor type this build cannot dequantize. Names the type and, when known, the tensor. */
export class UnsupportedTypeError extends Error {
  override name = 'UnsupportedTypeError';
  constructor(readonly type: number, readonly tensor?: string) {
    super(`${tensor ? `tensor "${tensor}": ` : ''}GGML type ${typeName(type)} is not supported; ` +
      `supported: ${Object.keys(DEQUANT).map((t) => typeName(Number(t))).join(', ')}`);
  }
}

type BlockFn = (b: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number) => void;
const half = (v: DataView, o: number) => f16ToF32(v.getUint16(o, true));

/** K-quant 6-bit scale and min number j (0..7) of the 12 packed bytes at `s`. */
export function scaleMinK4(j: number, b: Uint8Array, s: number): [number, number] {
  if (j < 4) return [b[s + j] & 63, b[s + j + 4] & 63];
  return [(b[s + j + 4] & 0xf) | ((b[s + j - 4] >> 6) << 4), (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4)];
}

const DEQUANT: Partial<Record<GGMLType, BlockFn>> = {
  [GGMLType.F32]: (_b, v, o, y, yo) => { y[yo] = v.getFloat32(o, true); },
  [GGMLType.F16]: (_b, v, o, y, yo) => { y[yo] = half(v, o); },
  [GGMLType.BF16]: (_b, v, o, y, yo) => { y[yo] = bf16ToF32(v.getUint16(o, true)); },

  // d (f16), 16 bytes of nibbles: element j is the low nibble of byte j, element j+16 the high.
  [GGMLType.Q4_0]: (b, v, o, y, yo) => {
    const d = half(v, o);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j];
      y[yo + j] = ((q & 0xf) - 8) * d;
      y[yo + j + 16] = ((q >> 4) - 8) * d;
    }
  },
  // d, m (f16), nibbles as Q4_0, unsigned: x = q*d + m.
  [GGMLType.Q4_1]: (b, v, o, y, yo) => {
    const d = half(v, o), m = half(v, o + 2);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 4 + j];
      y[yo + j] = (q & 0xf) * d + m;
      y[yo + j + 16] = (q >> 4) * d + m;
    }
  },
  // d (f16), qh (u32: the 5th bit of element i is bit i), nibbles as Q4_0; q - 16.
  [GGMLType.Q5_0]: (b, v, o, y, yo) => {
    const d = half(v, o), qh = v.getUint32(o + 2, true);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 6 + j];
      y[yo + j] = (((q & 0xf) | (((qh >>> j) & 1) << 4)) - 16) * d;
      y[yo + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  },
  [GGMLType.Q5_1]: (b, v, o, y, yo) => {
    const d = half(v, o), m = half(v, o + 2), qh = v.getUint32(o + 4, true);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 8 + j];
      y[yo + j] = ((q & 0xf) | (((qh >>> j) & 1) << 4)) * d + m;
      y[yo + j + 16] = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
    }
  },
  // d (f16), 32 int8.
  [GGMLType.Q8_0]: (_b, v, o, y, yo) => {
    const d = half(v, o);
    for (let j = 0; j < 32; j++) y[yo + j] = v.getInt8(o + 2 + j) * d;
  },
  // scales[16] (4-bit scale | 4-bit min), qs[64] (2-bit), d, dmin (f16).
  [GGMLType.Q2_K]: (b, v, o, y, yo) => {
    const d = half(v, o + 80), dmin = half(v, o + 82);
    let is = 0, q = o + 16;
    for (let n = 0; n < QK_K; n += 128, q += 32) {
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half16 = 0; half16 < 32; half16 += 16) {
          const sc = b[o + is++];
          const dl = d * (sc & 0xf), ml = dmin * (sc >> 4);
          for (let l = 0; l < 16; l++) y[yo++] = dl * ((b[q + half16 + l] >> shift) & 3) - ml;
        }
      }
    }
  },
  // hmask[32], qs[64] (2-bit), scales[12] (16 packed 6-bit, offset 32), d (f16).
  [GGMLType.Q3_K]: (b, v, o, y, yo) => {
    const d = half(v, o + 108);
    const sc = q3kScales(b, o + 96);
    let is = 0, q = o + 32, m = 1;
    for (let n = 0; n < QK_K; n += 128, q += 32) {
      for (let shift = 0; shift < 8; shift += 2, m <<= 1) {
        for (let half16 = 0; half16 < 32; half16 += 16) {
          const dl = d * (sc[is++] - 32);
          for (let l = 0; l < 16; l++) {
            const hm = b[o + half16 + l] & m ? 0 : 4;
            y[yo++] = dl * (((b[q + half16 + l] >> shift) & 3) - hm);
          }
        }
      }
    }
  },
  // d, dmin (f16), scales[12] (8 6-bit scales and mins), qs[128]: 4 chunks of 64, low then high nibbles.
  [GGMLType.Q4_K]: (b, v, o, y, yo) => {
    const d = half(v, o), dmin = half(v, o + 2);
    let q = o + 16;
    for (let is = 0; is < 8; is += 2, q += 32) {
      const [s1, m1] = scaleMinK4(is, b, o + 4), [s2, m2] = scaleMinK4(is + 1, b, o + 4);
      for (let l = 0; l < 32; l++) y[yo++] = d * s1 * (b[q + l] & 0xf) - dmin * m1;
      for (let l = 0; l < 32; l++) y[yo++] = d * s2 * (b[q + l] >> 4) - dmin * m2;
    }
  },
  // As Q4_K plus qh[32]: the 5th bit of chunk c's low half is bit 2c of qh[l], high half bit 2c+1.
  [GGMLType.Q5_K]: (b, v, o, y, yo) => {
    const d = half(v, o), dmin = half(v, o + 2);
    const qh = o + 16;
    let ql = o + 48;
    for (let is = 0; is < 8; is += 2, ql += 32) {
      const [s1, m1] = scaleMinK4(is, b, o + 4), [s2, m2] = scaleMinK4(is + 1, b, o + 4);
      const u1 = 1 << is, u2 = 2 << is;
      for (let l = 0; l < 32; l++) y[yo++] = d * s1 * ((b[ql + l] & 0xf) + (b[qh + l] & u1 ? 16 : 0)) - dmin * m1;
      for (let l = 0; l < 32; l++) y[yo++] = d * s2 * ((b[ql + l] >> 4) + (b[qh + l] & u2 ? 16 : 0)) - dmin * m2;
    }
  },
  // ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d (f16); q - 32.
  [GGMLType.Q6_K]: (b, v, o, y, yo) => {
    const d = half(v, o + 208);
    for (let n = 0; n < 2; n++) {
      const ql = o + 64 * n, qh = o + 128 + 32 * n, sc = o + 192 + 8 * n, y0 = yo + 128 * n;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4, h = b[qh + l];
        y[y0 + l] = d * v.getInt8(sc + is) * (((b[ql + l] & 0xf) | ((h & 3) << 4)) - 32);
        y[y0 + l + 32] = d * v.getInt8(sc + is + 2) * (((b[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32);
        y[y0 + l + 64] = d * v.getInt8(sc + is + 4) * (((b[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32);
        y[y0 + l + 96] = d * v.getInt8(sc + is + 6) * (((b[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
    }
  },
  // d (f16), 16 bytes of nibbles in Q4_0 order, each an index into the non-linear table KVALUES_IQ4NL.
  [GGMLType.IQ4_NL]: (b, v, o, y, yo) => {
    const d = half(v, o);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j];
      y[yo + j] = d * KVALUES_IQ4NL[q & 0xf];
      y[yo + j + 16] = d * KVALUES_IQ4NL[q >> 4];
    }
  },
  // d (f16), scales_h (u16: 2 high bits per sub-block), scales_l[4] (4 low bits per sub-block),
  // qs[128]: 8 sub-blocks of 32 as IQ4_NL blocks, each with scale d * (ls - 32), ls 6-bit.
  [GGMLType.IQ4_XS]: (b, v, o, y, yo) => {
    const d = half(v, o), sh = v.getUint16(o + 2, true);
    for (let ib = 0; ib < 8; ib++) {
      const dl = d * (iq4xsScale(b, o, sh, ib) - 32);
      const q = o + 8 + 16 * ib;
      for (let j = 0; j < 16; j++) {
        y[yo + 32 * ib + j] = dl * KVALUES_IQ4NL[b[q + j] & 0xf];
        y[yo + 32 * ib + j + 16] = dl * KVALUES_IQ4NL[b[q + j] >> 4];
      }
    }
  },
  // e (E8M0 scale byte), 16 bytes of E2M1 nibbles in Q4_0 order: x = KVALUES_MXFP4[q] * 2^(e - 128)
  // (the table holds twice the E2M1 values, the scale is halved: ggml_e8m0_to_fp32_half).
  [GGMLType.MXFP4]: (b, _v, o, y, yo) => {
    const d = e8m0Half(b[o]);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 1 + j];
      y[yo + j] = d * KVALUES_MXFP4[q & 0xf];
      y[yo + j + 16] = d * KVALUES_MXFP4[q >> 4];
    }
  },
};

/** MXFP4's 16 values: E2M1 (sign, 2-bit exponent, 1-bit mantissa) doubled (ggml-common.h kvalues_mxfp4). */
export const KVALUES_MXFP4 = Int8Array.of(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);

/** Half the value of an E8M0 scale byte: 2^(e - 128), subnormal for e < 2 (ggml_e8m0_to_fp32_half). */
export function e8m0Half(e: number): number {
  return Math.pow(2, e - 128);
}

/** IQ4_NL's and IQ4_XS's 16 values (ggml-common.h kvalues_iq4nl). */
export const KVALUES_IQ4NL = Int8Array.of(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

/** The 6-bit scale ls (0..63) of IQ4_XS sub-block ib of the block at o (scales_h = sh). */
export function iq4xsScale(b: Uint8Array, o: number, sh: number, ib: number): number {
  return ((b[o + 4 + (ib >> 1)] >> (4 * (ib & 1))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
}

/** The 16 6-bit scales of a Q3_K block, unpacked from 12 bytes at `s`. */
export function q3kScales(b: Uint8Array, s: number): Int8Array {
  const out = new Int8Array(16);
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? (b[s + j] & 0xf) : (b[s + j - 8] >> 4);
    const high = (b[s + 8 + (j & 3)] >> (2 * (j >> 2))) & 3;
    out[j] = low | (high << 4);
  }
  return out;
}

export function canDequantize(type: number): boolean {
  return DEQUANT[type as GGMLType] !== undefined;
}

/** Dequantizes `nElements` elements of `type` from `bytes` (which starts at a block boundary). */
export function dequantize(type: GGMLType, bytes: Uint8Array, nElements: number, tensor?: string): Float32Array {
  const fn = DEQUANT[type];
  const tr = TYPE_TRAITS[type];
  if (!fn || !tr) throw new UnsupportedTypeError(type, tensor);
  if (nElements % tr.blockSize !== 0) throw new RangeError(`${nElements} elements is not a whole number of ${typeName(type)} blocks`);
  const nBlocks = nElements / tr.blockSize;
  if (bytes.length < nBlocks * tr.typeSize) {
    throw new RangeError(`${tensor ?? 'tensor'}: ${nBlocks} ${typeName(type)} blocks need ${nBlocks * tr.typeSize} bytes, got ${bytes.length}`);
  }
  const y = new Float32Array(nElements);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < nBlocks; i++) fn(bytes, view, i * tr.typeSize, y, i * tr.blockSize);
  return y;
}
