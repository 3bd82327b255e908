// Random tensor data written directly as GGML blocks, fast enough for an 18 GB file: the bytes a
// format leaves free (Q4_K's nibbles, Q6_K's 6-bit quants) come straight from a xorshift128
// stream over a Uint32Array; the fields that set the size of the values (f16 super-block scales,
// 6-bit and int8 sub-block scales) are set so that the dequantized elements (src/gguf/dequant.ts,
// ggml-quants.c dequantize_row_q4_K / dequantize_row_q6_K) have mean 0 and a chosen standard
// deviation. Nothing is quantized from floats: no rounding step, ~1 ns per byte.
import { f16ToF32, f32ToF16 } from '../../src/gguf/half.ts';
import { GGMLType, TYPE_TRAITS, typeName } from '../../src/gguf/types.ts';

/** xorshift128 (Marsaglia 2003), seeded through splitmix32 from (seed, stream): one independent
 *  stream per tensor, so each tensor's bytes depend only on the seed and its index. */
export class Xorshift128 {
  private s = new Uint32Array(4);

  constructor(seed: number, stream: number) {
    let z = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream | 0, 0x85ebca6b)) | 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) | 0;
      let t = z ^ (z >>> 16);
      t = Math.imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = Math.imul(t, 0x735a2d97);
      this.s[i] = t ^ (t >>> 15);
    }
    if (!(this.s[0] | this.s[1] | this.s[2] | this.s[3])) this.s[0] = 1; // the all-zero state is a fixed point
  }

  /** Fills `out` with the next out.length words. */
  fill(out: Uint32Array): void {
    let [x, y, z, w] = this.s;
    for (let i = 0; i < out.length; i++) {
      const t = x ^ (x << 11);
      x = y; y = z; z = w;
      w = w ^ (w >>> 19) ^ t ^ (t >>> 8);
      out[i] = w;
    }
    this.s[0] = x; this.s[1] = y; this.s[2] = z; this.s[3] = w;
  }

  private words = new Uint32Array(0);
  /** Fills `out` with mean + std * N(0, 1) (Box-Muller on pairs of words). */
  gaussFill(out: Float32Array, mean = 0, std = 1): void {
    const n = out.length + (out.length & 1);
    if (this.words.length < n) this.words = new Uint32Array(n);
    const w = this.words.subarray(0, n);
    this.fill(w);
    for (let i = 0; i < n; i += 2) {
      const r = std * Math.sqrt(-2 * Math.log((w[i] + 0.5) / 4294967296));
      const a = (2 * Math.PI * w[i + 1]) / 4294967296;
      out[i] = mean + r * Math.cos(a);
      if (i + 1 < out.length) out[i + 1] = mean + r * Math.sin(a);
    }
  }
}

// Element statistics of the blocks below, per unit of the f16 super-block scale d:
//  Q4_K: x = d*s*q - dmin*m with 6-bit s uniform in [32, 63], m = s and dmin = f16(7.5 d), so
//        x = d*s*(q - 7.5) (up to dmin's f16 rounding, < 2^-11 of d*s*7.5): every 32-element
//        sub-block has mean 0. E[s^2] = 47.5^2 + (32^2-1)/12 = 2341.5, E[(q-7.5)^2] = 21.25.
//        (s >= 32 keeps every sub-block alive; real Q4_K blocks have their largest s at 63.)
//  Q6_K: x = d*sc*(q - 32), q uniform in [0, 63], int8 sc = ±[64, 127] with a random sign (mean
//        0 although q - 32 has mean -1/2), as llama.cpp's quantizer gives a block its largest
//        |sc| = 128 and the others in proportion. E[sc^2] = 95.5^2 + (64^2-1)/12 = 9461.5,
//        E[(q-32)^2] = 341.5. With these, d is often below f16's smallest normal (2^-14): so it
//        is in real Q6_K files (d = max|x| / 4096), and every implementation must read it.
const Q4K_STD_PER_D = Math.sqrt(2341.5 * 21.25);
const Q6K_STD_PER_D = Math.sqrt(9461.5 * 341.5);

/** The f16 super-block scale d (bits) that gives elements of standard deviation `std`. */
function superScale(type: GGMLType, std: number): number {
  const perD = type === GGMLType.Q4_K ? Q4K_STD_PER_D : Q6K_STD_PER_D;
  const d = f32ToF16(std / perD);
  if (d === 0 || d >= 0x7c00) throw new RangeError(`${typeName(type)}: std ${std} is out of f16's range`);
  return d;
}

/** Writes nBlocks random Q4_K or Q6_K blocks whose elements have standard deviation `std` at
 *  the start of `out` (byteOffset a multiple of 4); returns the bytes written. */
export function randomBlocks(type: GGMLType, std: number, rng: Xorshift128, out: Uint8Array, nBlocks: number): number {
  if (type !== GGMLType.Q4_K && type !== GGMLType.Q6_K) throw new Error(`scale model: no random blocks of ${typeName(type)}`);
  const bytes = TYPE_TRAITS[type]!.typeSize;
  const d = superScale(type, std);
  const dmin = f32ToF16(7.5 * f16ToF32(d));
  const len = nBlocks * bytes;
  // Whole words from the stream (the last one cut short when len is not a multiple of 4).
  rng.fill(new Uint32Array(out.buffer, out.byteOffset, Math.ceil(len / 4)));
  for (let o = 0; o < len; o += bytes) {
    if (type === GGMLType.Q4_K) {
      // d, dmin (f16), scales[12], qs[128]. Scales: bytes j and j+4 (j < 4) hold sc_j and m_j in
      // their low 6 bits and the top 2 bits of sc_{j+4} / m_{j+4} in their high 2; byte j+8
      // holds the low 4 bits of sc_{j+4} and m_{j+4} (ggml-quants.c get_scale_min_k4).
      out[o] = d & 255; out[o + 1] = d >> 8;
      out[o + 2] = dmin & 255; out[o + 3] = dmin >> 8;
      for (let j = 0; j < 4; j++) {
        const lo = 32 | (out[o + 4 + j] & 31), hi = 32 | (out[o + 8 + j] & 31); // sc_j, sc_{j+4}
        const b = lo | ((hi >> 4) << 6);
        out[o + 4 + j] = b; // sc_j
        out[o + 8 + j] = b; // m_j = sc_j
        out[o + 12 + j] = (hi & 15) * 17; // low nibbles of sc_{j+4} and m_{j+4}
      }
      // qs[128] stays random.
    } else {
      // ql[128], qh[64] stay random; scales[16] int8; d (f16) last.
      for (let j = 0; j < 16; j++) {
        const r = out[o + 192 + j];
        const mag = 64 | (r & 63);
        out[o + 192 + j] = r & 64 ? 256 - mag : mag;
      }
      out[o + 208] = d & 255; out[o + 209] = d >> 8;
    }
  }
  return len;
}
