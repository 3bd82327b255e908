// GPU layouts of weight matrices: GGUF blocks repacked at upload into word-aligned regions that
// the q_<type>.wgsl files read (storage buffers on SwiftShader have no 8- or 16-bit access, and a
// GGUF block of 18, 22, 34 or 210 bytes is not even word-aligned).
//
// A matrix of `rows` rows (all matrices of an expert tensor flattened: rows = count * n) and k
// columns is a sequence of 32-element blocks g = row * k/32 + b. Each layout has up to three
// regions, each starting on a 16-byte boundary (offsets in u32 words):
//   q: the low bits of every block (vec4-aligned per block where the kernel reads vec4s)
//   h: high bits (Q5_0, Q6_K, Q3_K)
//   m: scales and other per-block or per-super-block metadata
import { iq4xsScale, q3kScales, scaleMinK4 } from '../gguf/dequant.ts';
import { GGMLType, typeName } from '../gguf/types.ts';

export class UnsupportedWeightError extends Error {
  override name = 'UnsupportedWeightError';
}

export interface WeightLayout {
  type: GGMLType;
  k: number;
  rows: number;
  qOff: number;
  hOff: number;
  mOff: number;
  /** Total u32 words. */
  words: number;
}

/** How quant_act.wgsl converts a matmul's input for a weight type: ggml's vec_dot_type ('none'
 *  in exact numerics; 'none_s32' keeps the Q8_1 sum layout), the positional scaling its
 *  dequantizer expects (pos: 0 none, 1 nib, 2 byte; see quant_act.wgsl) and whether the block
 *  sums skip byte 3 of each word (b3, Q8_0: see q_q8_0.wgsl). */
export type ActConv = 'none' | 'none_s32' | 'f16' | 'bf16' | 'q8_0' | 'q8_1' | 'q8_k';

export interface GpuTypeInfo {
  file: string;
  act: ActConv;
  pos: 0 | 1 | 2 | 3;
  b3: boolean;
  super: boolean;
}

/** The types the GPU kernels read, with their shader file suffix and activation conversion. */
export const GPU_TYPES: Partial<Record<GGMLType, GpuTypeInfo>> = {
  [GGMLType.F32]: { file: 'f32', act: 'none', pos: 0, b3: false, super: false },
  [GGMLType.F16]: { file: 'f16', act: 'f16', pos: 0, b3: false, super: false },
  [GGMLType.BF16]: { file: 'bf16', act: 'bf16', pos: 0, b3: false, super: false },
  [GGMLType.Q8_0]: { file: 'q8_0', act: 'q8_0', pos: 2, b3: true, super: false },
  [GGMLType.Q4_0]: { file: 'q4_0', act: 'q8_0', pos: 1, b3: false, super: false },
  [GGMLType.Q4_1]: { file: 'q4_1', act: 'q8_1', pos: 1, b3: false, super: false },
  [GGMLType.Q5_0]: { file: 'q5_0', act: 'q8_0', pos: 2, b3: false, super: false },
  [GGMLType.Q5_1]: { file: 'q5_1', act: 'q8_1', pos: 2, b3: false, super: false },
  [GGMLType.Q4_K]: { file: 'q4_k', act: 'q8_k', pos: 1, b3: false, super: true },
  [GGMLType.Q5_K]: { file: 'q5_k', act: 'q8_k', pos: 2, b3: false, super: true },
  [GGMLType.Q6_K]: { file: 'q6_k', act: 'q8_k', pos: 2, b3: false, super: true },
  [GGMLType.Q2_K]: { file: 'q2_k', act: 'q8_k', pos: 3, b3: false, super: true },
  [GGMLType.Q3_K]: { file: 'q3_k', act: 'q8_k', pos: 3, b3: false, super: true },
  [GGMLType.IQ4_NL]: { file: 'iq4_nl', act: 'q8_0', pos: 0, b3: false, super: false },
  [GGMLType.IQ4_XS]: { file: 'iq4_xs', act: 'q8_k', pos: 0, b3: false, super: true },
  [GGMLType.MXFP4]: { file: 'mxfp4', act: 'q8_0', pos: 0, b3: false, super: false },
};

/** An activation conversion as a key: "q8_0", "q8_k.pos1", "q8_0.pos2.b3", ... */
export type ActKind = string;

export function actKindOf(conv: ActConv, pos = 0, b3 = false): ActKind {
  return conv + (pos ? `.pos${pos}` : '') + (b3 ? '.b3' : '');
}

export function parseActKind(kind: ActKind): { conv: ActConv; pos: number; b3: boolean } {
  const [conv, ...rest] = kind.split('.');
  return { conv: conv as ActConv, pos: Number(rest.find((r) => r.startsWith('pos'))?.slice(3) ?? 0), b3: rest.includes('b3') };
}

/** The conversion for `type` in 'ggml' numerics, or the exact one ('exact' numerics). */
export function actKind(type: GGMLType, numerics: 'ggml' | 'exact'): ActKind {
  const t = gpuType(type);
  const conv: ActConv = numerics === 'ggml' ? t.act : t.act === 'q8_1' ? 'none_s32' : 'none';
  return actKindOf(conv, t.pos, t.b3);
}

export function gpuType(type: GGMLType, tensor?: string): GpuTypeInfo {
  const t = GPU_TYPES[type];
  if (!t) {
    throw new UnsupportedWeightError(`${tensor ? `tensor ${tensor}: ` : ''}type ${typeName(type)} has no WebGPU kernel; ` +
      `supported: ${Object.keys(GPU_TYPES).map((x) => typeName(Number(x))).join(', ')}`);
  }
  return t;
}

const up4 = (n: number) => Math.ceil(n / 4) * 4;

/** Words of the quant, high-bit and meta regions of `rows` rows, before each is padded to 4
 *  words (weightLayout). */
export function regionWords(type: GGMLType, k: number, rows: number, tensor?: string): [number, number, number] {
  const t = gpuType(type, tensor);
  const unit = t.super ? 256 : 32;
  if (k % unit !== 0) {
    throw new UnsupportedWeightError(`${tensor ? `tensor ${tensor}: ` : ''}rows of ${k} elements; the ${typeName(type)} kernels need a multiple of ${unit}`);
  }
  const nb = (rows * k) / 32; // 32-blocks
  const ns = nb / 8; // super-blocks (K-quants)
  const sizes: Record<string, [number, number, number]> = {
    f32: [nb * 32, 0, 0], f16: [nb * 16, 0, 0], bf16: [nb * 16, 0, 0],
    q8_0: [nb * 8, 0, Math.ceil(nb / 2)],
    q4_0: [nb * 4, 0, Math.ceil(nb / 2)],
    q4_1: [nb * 4, 0, nb],
    q5_0: [nb * 4, nb, Math.ceil(nb / 2)],
    q5_1: [nb * 4, 0, nb * 2],
    q4_k: [nb * 4, 0, ns * 5],
    q5_k: [nb * 4, 0, ns * 13],
    q6_k: [nb * 4, nb * 2, ns * 5],
    q2_k: [nb * 2, 0, ns * 5],
    q3_k: [nb * 2, nb, ns * 5],
    iq4_nl: [nb * 4, 0, Math.ceil(nb / 2)],
    iq4_xs: [nb * 4, 0, ns * 3],
    mxfp4: [nb * 4, 0, Math.ceil(nb / 4)],
  };
  return sizes[t.file];
}

export function weightLayout(type: GGMLType, k: number, rows: number, tensor?: string): WeightLayout {
  const [q, h, m] = regionWords(type, k, rows, tensor);
  const qOff = 0, hOff = up4(q), mOff = hOff + up4(h);
  return { type, k, rows, qOff, hOff, mOff, words: mOff + up4(m) };
}

/** GGUF bytes of `rows` rows of k elements → the words of weightLayout(type, k, rows). */
export function repack(type: GGMLType, src: Uint8Array, k: number, rows: number, tensor?: string): Uint32Array<ArrayBuffer> {
  const L = weightLayout(type, k, rows, tensor);
  const out = new Uint32Array(L.words);
  const nb = (rows * k) / 32;
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u16 = (o: number) => dv.getUint16(o, true);
  const setHalf = (region: number, i: number, h: number) => { out[region + (i >> 1)] |= h << ((i & 1) * 16); };
  const words = (o: number, n: number, dst: number) => { for (let i = 0; i < n; i++) out[dst + i] = u32(o + 4 * i); };
  const { qOff, hOff, mOff } = L;
  switch (type) {
    case GGMLType.F32: words(0, nb * 32, qOff); break;
    case GGMLType.F16: case GGMLType.BF16: words(0, nb * 16, qOff); break;
    case GGMLType.Q8_0:
      for (let g = 0; g < nb; g++) {
        const o = g * 34;
        setHalf(mOff, g, u16(o));
        // bytes 0..2 of each word as q + 128 (top bit flipped), byte 3 as q: see q_q8_0.wgsl
        for (let i = 0; i < 8; i++) out[qOff + 8 * g + i] = ((src[o + 2 + 4 * i] | (src[o + 3 + 4 * i] << 8) | (src[o + 4 + 4 * i] << 16) | (src[o + 5 + 4 * i] << 24)) ^ 0x808080) >>> 0;
      }
      break;
    case GGMLType.Q4_0:
      for (let g = 0; g < nb; g++) {
        const o = g * 18;
        setHalf(mOff, g, u16(o));
        for (let i = 0; i < 4; i++) out[qOff + 4 * g + i] = (src[o + 2 + 4 * i] | (src[o + 3 + 4 * i] << 8) | (src[o + 4 + 4 * i] << 16) | (src[o + 5 + 4 * i] << 24)) >>> 0;
      }
      break;
    case GGMLType.Q4_1:
      for (let g = 0; g < nb; g++) {
        const o = g * 20;
        out[mOff + g] = u32(o);
        words(o + 4, 4, qOff + 4 * g);
      }
      break;
    case GGMLType.Q5_0:
      for (let g = 0; g < nb; g++) {
        const o = g * 22;
        setHalf(mOff, g, u16(o));
        out[hOff + g] = (src[o + 2] | (src[o + 3] << 8) | (src[o + 4] << 16) | (src[o + 5] << 24)) >>> 0;
        for (let i = 0; i < 4; i++) out[qOff + 4 * g + i] = (src[o + 6 + 4 * i] | (src[o + 7 + 4 * i] << 8) | (src[o + 8 + 4 * i] << 16) | (src[o + 9 + 4 * i] << 24)) >>> 0;
      }
      break;
    case GGMLType.Q5_1:
      for (let g = 0; g < nb; g++) {
        const o = g * 24;
        out[mOff + 2 * g] = u32(o);
        out[mOff + 2 * g + 1] = u32(o + 4);
        words(o + 8, 4, qOff + 4 * g);
      }
      break;
    case GGMLType.Q4_K: case GGMLType.Q5_K: {
      const five = type === GGMLType.Q5_K;
      const bs = five ? 176 : 144;
      const qsAt = five ? 48 : 16;
      const nib = new Uint8Array(256);
      for (let s = 0; s < nb / 8; s++) {
        const o = s * bs;
        const mo = mOff + (five ? 13 : 5) * s;
        // d | dmin << 16, then the 6-bit (scale, min) of sub-blocks 2i, 2i+1 as bytes of word 1 + i
        // (GGML packs them in 12 bytes; unpacking that per sub-block costs shifts by a
        // sub-block-dependent amount, slow on SwiftShader, for 4 extra bytes per 256 elements)
        out[mo] = u32(o);
        const sc = new Uint8Array(8), mn = new Uint8Array(8);
        for (let j = 0; j < 8; j++) [sc[j], mn[j]] = scaleMinK4(j, src, o + 4);
        for (let i = 0; i < 4; i++) out[mo + 1 + i] = (sc[2 * i] | (mn[2 * i] << 8) | (sc[2 * i + 1] << 16) | (mn[2 * i + 1] << 24)) >>> 0;
        // GGML: chunk c of 64 elements = bytes 32c..32c+31: low nibbles elements 64c+l, high 64c+32+l
        for (let c = 0; c < 4; c++) {
          for (let l = 0; l < 32; l++) {
            const b = src[o + qsAt + 32 * c + l];
            nib[64 * c + l] = b & 15;
            nib[64 * c + 32 + l] = b >> 4;
          }
        }
        packNibbles(nib, out, qOff + 32 * s);
        if (five) {
          // GGML qh[l] bit j = fifth bit of element 32j + l; GPU: one word per sub-block j, bit l.
          for (let j = 0; j < 8; j++) {
            let w = 0;
            for (let l = 0; l < 32; l++) w |= ((src[o + 16 + l] >> j) & 1) << l;
            out[mo + 5 + j] = w >>> 0;
          }
        }
      }
      break;
    }
    case GGMLType.Q6_K: {
      const u = new Uint8Array(256);
      for (let s = 0; s < nb / 8; s++) {
        const o = s * 210;
        for (let half = 0; half < 2; half++) {
          const ql = o + 64 * half, qh = o + 128 + 32 * half, e0 = 128 * half;
          for (let l = 0; l < 32; l++) {
            const h = src[qh + l];
            u[e0 + l] = (src[ql + l] & 15) | ((h & 3) << 4);
            u[e0 + l + 32] = (src[ql + l + 32] & 15) | (((h >> 2) & 3) << 4);
            u[e0 + l + 64] = (src[ql + l] >> 4) | (((h >> 4) & 3) << 4);
            u[e0 + l + 96] = (src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4);
          }
        }
        const nib = u.map((v) => v & 15);
        packNibbles(nib, out, qOff + 32 * s);
        // High bits: per sub-block j two words (halves); byte b bits 2k..2k+1 = element 16*half + 4k + b.
        for (let j = 0; j < 8; j++) {
          for (let half = 0; half < 2; half++) {
            let w = 0;
            for (let kk = 0; kk < 4; kk++) for (let b = 0; b < 4; b++) w |= (u[32 * j + 16 * half + 4 * kk + b] >> 4) << (8 * b + 2 * kk);
            out[hOff + 16 * s + 2 * j + half] = w >>> 0;
          }
        }
        const mo = mOff + 5 * s;
        for (let i = 0; i < 4; i++) out[mo + i] = u32(o + 192 + 4 * i); // 16 int8 scales
        out[mo + 4] = u16(o + 208); // d
      }
      break;
    }
    case GGMLType.Q2_K: case GGMLType.Q3_K: {
      // GGML: block j of a super-block (j = 4n + t) takes bits 2t of qs[32n + l] for element l;
      // GPU: 2 words per block, element l at bits 8b + 2k of word l >> 4 (l & 15 = 4k + b), k = 3
      // at 8b + 6 too (the shader shifts it down). Q3_K's third bits: hmask[l] bit j, to bit l of
      // the block's high word.
      const three = type === GGMLType.Q3_K;
      const bs = three ? 110 : 84, qs = three ? 32 : 16;
      for (let s = 0; s < nb / 8; s++) {
        const o = s * bs;
        for (let j = 0; j < 8; j++) {
          const g = 8 * s + j, n = j >> 2, t = j & 3;
          let w0 = 0, w1 = 0, h = 0;
          for (let l = 0; l < 32; l++) {
            const q = (src[o + qs + 32 * n + l] >> (2 * t)) & 3;
            const i = l & 15, at = 8 * (i & 3) + 2 * (i >> 2);
            if (l < 16) w0 |= q << at; else w1 |= q << at;
            if (three) h |= ((src[o + l] >> j) & 1) << l;
          }
          out[qOff + 2 * g] = w0 >>> 0;
          out[qOff + 2 * g + 1] = w1 >>> 0;
          if (three) out[hOff + g] = h >>> 0;
        }
        const mo = mOff + 5 * s;
        if (three) {
          const sc = q3kScales(src, o + 96).map((x) => x - 32); // int8
          for (let i = 0; i < 4; i++) out[mo + i] = ((sc[4 * i] & 255) | ((sc[4 * i + 1] & 255) << 8) | ((sc[4 * i + 2] & 255) << 16) | ((sc[4 * i + 3] & 255) << 24)) >>> 0;
          out[mo + 4] = u16(o + 108);
        } else {
          out[mo] = u32(o + 80); // d | dmin << 16
          for (let i = 0; i < 4; i++) out[mo + 1 + i] = u32(o + 4 * i); // the 16 scale bytes
        }
      }
      break;
    }
    case GGMLType.IQ4_NL:
      for (let g = 0; g < nb; g++) {
        const o = g * 18;
        setHalf(mOff, g, u16(o));
        for (let i = 0; i < 4; i++) out[qOff + 4 * g + i] = (src[o + 2 + 4 * i] | (src[o + 3 + 4 * i] << 8) | (src[o + 4 + 4 * i] << 16) | (src[o + 5 + 4 * i] << 24)) >>> 0;
      }
      break;
    case GGMLType.IQ4_XS:
      for (let s = 0; s < nb / 8; s++) {
        const o = s * 136, mo = mOff + 3 * s, sh = u16(o + 2);
        out[mo] = u16(o); // d
        for (let j = 0; j < 8; j++) out[mo + 1 + (j >> 2)] |= iq4xsScale(src, o, sh, j) << (8 * (j & 3));
        words(o + 8, 32, qOff + 32 * s); // sub-block j's 16 bytes in Q4_0 order already
      }
      break;
    case GGMLType.MXFP4:
      for (let g = 0; g < nb; g++) {
        const o = g * 17;
        out[mOff + (g >> 2)] |= src[o] << (8 * (g & 3)); // E8M0 bytes, four per word
        for (let i = 0; i < 4; i++) out[qOff + 4 * g + i] = (src[o + 1 + 4 * i] | (src[o + 2 + 4 * i] << 8) | (src[o + 3 + 4 * i] << 16) | (src[o + 4 + 4 * i] << 24)) >>> 0;
      }
      break;
    default:
      throw new UnsupportedWeightError(`type ${typeName(type)} has no WebGPU layout`);
  }
  return out;
}

/** 256 nibbles (8 sub-blocks of 32) → 32 words, each sub-block in Q4_0 order: byte t of the
 *  sub-block's 16 bytes holds element t (low nibble) and element t + 16 (high nibble). */
function packNibbles(nib: Uint8Array, out: Uint32Array, at: number): void {
  for (let j = 0; j < 8; j++) {
    for (let i = 0; i < 4; i++) {
      let w = 0;
      for (let b = 0; b < 4; b++) {
        const t = 4 * i + b;
        w |= (nib[32 * j + t] | (nib[32 * j + t + 16] << 4)) << (8 * b);
      }
      out[at + 4 * j + i] = w >>> 0;
    }
  }
}
