// Quantization to GGML blocks: the model factory writes weights with these. Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0 and MXFP4 follow ggml's reference quantizers (f32 arithmetic, same rounding), so their bytes
// can be compared with gguf-py's; the K-quants, IQ4_NL and IQ4_XS use a plain max or min/max fit
// (valid blocks, good enough fidelity for test models; llama.cpp's iterative scale search is not
// needed to make a correct file: what matters is that llama.cpp and WebMoE decode the same values,
// which quant.test.ts checks against gguf-py).
import { f32ToBf16, f32ToF16, roundF16 } from './half.ts';
import { e8m0Half, KVALUES_IQ4NL, KVALUES_MXFP4 } from './dequant.ts';
import { GGMLType, QK_K, TYPE_TRAITS, typeName } from './types.ts';

const fr = Math.fround;

type QuantFn = (x: Float32Array, xo: number, b: Uint8Array, v: DataView, o: number) => void;

/** The value of largest magnitude (with its sign) and its magnitude, over x[o, o + n). */
function signedMax(x: Float32Array, o: number, n: number): [number, number] {
  let amax = 0, max = 0;
  for (let j = 0; j < n; j++) {
    const a = Math.abs(x[o + j]);
    if (a > amax) { amax = a; max = x[o + j]; }
  }
  return [max, amax];
}

function minMax(x: Float32Array, o: number, n: number): [number, number] {
  let mn = Infinity, mx = -Infinity;
  for (let j = 0; j < n; j++) { mn = Math.min(mn, x[o + j]); mx = Math.max(mx, x[o + j]); }
  return [mn, mx];
}

/** C's (int8_t) cast of a float: truncation toward zero, then wrap into a byte. */
const toInt8 = (f: number) => (Math.trunc(f) << 24) >> 24;

/** Packs 32 small ints: element j in the low nibble of byte j, element j+16 in the high one;
 *  the 5th bits (when `qh` is given) go to bit j of a u32. */
function packNibbles(q: number[], b: Uint8Array, o: number, v?: DataView, qhAt?: number) {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    b[o + j] = (q[j] & 0xf) | ((q[j + 16] & 0xf) << 4);
    qh |= ((q[j] >> 4) & 1) << j;
    qh |= ((q[j + 16] >> 4) & 1) << (j + 16);
  }
  if (v && qhAt !== undefined) v.setUint32(qhAt, qh >>> 0, true);
}

const QUANT: Partial<Record<GGMLType, QuantFn>> = {
  [GGMLType.F32]: (x, xo, _b, v, o) => v.setFloat32(o, x[xo], true),
  [GGMLType.F16]: (x, xo, _b, v, o) => v.setUint16(o, f32ToF16(x[xo]), true),
  [GGMLType.BF16]: (x, xo, _b, v, o) => v.setUint16(o, f32ToBf16(x[xo]), true),
  [GGMLType.Q8_0]: (x, xo, _b, v, o) => {
    const [, amax] = signedMax(x, xo, 32);
    const d = fr(amax / 127), id = d ? fr(1 / d) : 0;
    v.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) v.setInt8(o + 2 + j, Math.round(Math.abs(fr(x[xo + j] * id))) * Math.sign(x[xo + j]));
  },
  [GGMLType.Q4_0]: (x, xo, b, v, o) => {
    const [max] = signedMax(x, xo, 32);
    const d = fr(max / -8), id = d ? fr(1 / d) : 0;
    v.setUint16(o, f32ToF16(d), true);
    const q = Array.from({ length: 32 }, (_, j) => Math.min(15, toInt8(fr(fr(x[xo + j] * id) + 8.5))));
    packNibbles(q, b, o + 2);
  },
  [GGMLType.Q4_1]: (x, xo, b, v, o) => {
    const [mn, mx] = minMax(x, xo, 32);
    const d = fr((mx - mn) / 15), id = d ? fr(1 / d) : 0;
    v.setUint16(o, f32ToF16(d), true);
    v.setUint16(o + 2, f32ToF16(mn), true);
    const q = Array.from({ length: 32 }, (_, j) => Math.min(15, toInt8(fr(fr(fr(x[xo + j] - mn) * id) + 0.5))));
    packNibbles(q, b, o + 4);
  },
  [GGMLType.Q5_0]: (x, xo, b, v, o) => {
    const [max] = signedMax(x, xo, 32);
    const d = fr(max / -16), id = d ? fr(1 / d) : 0;
    v.setUint16(o, f32ToF16(d), true);
    const q = Array.from({ length: 32 }, (_, j) => Math.min(31, toInt8(fr(fr(x[xo + j] * id) + 16.5))));
    packNibbles(q, b, o + 6, v, o + 2);
  },
  [GGMLType.Q5_1]: (x, xo, b, v, o) => {
    const [mn, mx] = minMax(x, xo, 32);
    const d = fr((mx - mn) / 31), id = d ? fr(1 / d) : 0;
    v.setUint16(o, f32ToF16(d), true);
    v.setUint16(o + 2, f32ToF16(mn), true);
    const q = Array.from({ length: 32 }, (_, j) => Math.min(31, toInt8(fr(fr(fr(x[xo + j] - mn) * id) + 0.5))));
    packNibbles(q, b, o + 8, v, o + 4);
  },
  [GGMLType.Q2_K]: quantizeQ2K,
  [GGMLType.Q3_K]: quantizeQ3K,
  [GGMLType.Q4_K]: (x, xo, b, v, o) => quantizeKMin(x, xo, b, v, o, 15),
  [GGMLType.Q5_K]: (x, xo, b, v, o) => quantizeKMin(x, xo, b, v, o, 31),
  // the value of largest magnitude at the table's -127 (as quantize_row_iq4_nl starts its search)
  [GGMLType.IQ4_NL]: (x, xo, b, v, o) => {
    const [max] = signedMax(x, xo, 32);
    const d = roundF16(max / -127);
    v.setUint16(o, f32ToF16(d), true);
    packIq4(x, xo, d, b, o + 2);
  },
  // 8 sub-blocks as IQ4_NL with 6-bit scales d * (ls - 32), the largest sub-block scale at -32
  [GGMLType.IQ4_XS]: (x, xo, b, v, o) => {
    const scale = new Float32Array(8);
    let big = 0;
    for (let s = 0; s < 8; s++) {
      scale[s] = signedMax(x, xo + 32 * s, 32)[0] / -127;
      if (Math.abs(scale[s]) > Math.abs(big)) big = scale[s];
    }
    const d = roundF16(big / -32);
    v.setUint16(o, f32ToF16(d), true);
    let sh = 0;
    b.fill(0, o + 4, o + 8);
    for (let s = 0; s < 8; s++) {
      const ls = (d ? Math.max(-32, Math.min(31, Math.round(scale[s] / d))) : 0) + 32;
      b[o + 4 + (s >> 1)] |= (ls & 0xf) << (4 * (s & 1));
      sh |= (ls >> 4) << (2 * s);
      packIq4(x, xo + 32 * s, d * (ls - 32), b, o + 8 + 16 * s);
    }
    v.setUint16(o + 2, sh, true);
  },
  // ggml's rule (quantize_row_mxfp4_ref): e = floor(log2(amax)) - 2 + 127 (the largest value,
  // 6 = 12 / 2, then covers amax), each value the nearest of the table (the first on ties).
  [GGMLType.MXFP4]: (x, xo, b, _v, o) => {
    const [, amax] = signedMax(x, xo, 32);
    const e = amax > 0 ? Math.floor(fr(Math.log2(amax))) - 2 + 127 : 0;
    const d = e8m0Half(e);
    const nearest = (t: number) => {
      let best = 0;
      for (let i = 1; i < 16; i++) if (Math.abs(fr(KVALUES_MXFP4[i] * d - t)) < Math.abs(fr(KVALUES_MXFP4[best] * d - t))) best = i;
      return best;
    };
    b[o] = e;
    for (let j = 0; j < 16; j++) b[o + 1 + j] = nearest(x[xo + j]) | (nearest(x[xo + j + 16]) << 4);
  },
  [GGMLType.Q6_K]: (x, xo, b, v, o) => {
    // 16 sub-blocks of 16: signed 6-bit q in [-32, 31], an int8 scale each, one f16 super-scale.
    const scales = new Float32Array(16);
    let maxScale = 0, maxAbs = 0;
    for (let s = 0; s < 16; s++) {
      const [max, amax] = signedMax(x, xo + 16 * s, 16);
      scales[s] = max / -32;
      if (amax > maxAbs) { maxAbs = amax; maxScale = scales[s]; }
    }
    const d = roundF16(maxScale / -128); // scales[s] / d lands in [-128, 127]
    v.setUint16(o + 208, f32ToF16(d), true);
    const q = new Uint8Array(QK_K);
    for (let s = 0; s < 16; s++) {
      const sc = d ? Math.max(-128, Math.min(127, Math.round(scales[s] / d))) : 0;
      v.setInt8(o + 192 + s, sc);
      const step = d * sc;
      for (let l = 0; l < 16; l++) {
        const qi = step ? Math.round(x[xo + 16 * s + l] / step) : 0;
        q[16 * s + l] = Math.max(-32, Math.min(31, qi)) + 32;
      }
    }
    // Layout (see dequant.ts): per half n, ql low/high nibbles and qh 2-bit fields.
    for (let n = 0; n < 2; n++) {
      const ql = o + 64 * n, qh = o + 128 + 32 * n, y = 128 * n;
      for (let l = 0; l < 32; l++) {
        const q1 = q[y + l], q2 = q[y + l + 32], q3 = q[y + l + 64], q4 = q[y + l + 96];
        b[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        b[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        b[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  },
};

/** Q2_K: 16 sub-blocks of 16, x ~ d*sc*q - dmin*m, q in 0..3, 4-bit sc and m (a min/max fit). */
function quantizeQ2K(x: Float32Array, xo: number, b: Uint8Array, v: DataView, o: number) {
  const scale = new Float32Array(16), min = new Float32Array(16);
  for (let s = 0; s < 16; s++) {
    const [mn, mx] = minMax(x, xo + 16 * s, 16);
    min[s] = -Math.min(mn, 0);
    scale[s] = (mx + min[s]) / 3;
  }
  const d = roundF16(Math.max(...scale) / 15), dmin = roundF16(Math.max(...min) / 15);
  v.setUint16(o + 80, f32ToF16(d), true);
  v.setUint16(o + 82, f32ToF16(dmin), true);
  b.fill(0, o + 16, o + 80);
  for (let s = 0; s < 16; s++) {
    const sc = d ? Math.min(15, Math.round(scale[s] / d)) : 0;
    const m = dmin ? Math.min(15, Math.round(min[s] / dmin)) : 0;
    b[o + s] = sc | (m << 4);
    // element 16s + l = 128n + 32j + 16h + l sits in qs[32n + 16h + l] at bits 2j (see dequant.ts)
    const n = s >> 3, j = (s >> 1) & 3, h = s & 1;
    for (let l = 0; l < 16; l++) {
      const q = sc ? Math.max(0, Math.min(3, Math.round((x[xo + 16 * s + l] + dmin * m) / (d * sc)))) : 0;
      b[o + 16 + 32 * n + 16 * h + l] |= q << (2 * j);
    }
  }
}

/** Q3_K: 16 sub-blocks of 16, x ~ d*(sc-32)*q, q in -4..3 (2 low bits in qs, the third in hmask),
 *  6-bit sc (the largest sub-block scale at -32). */
function quantizeQ3K(x: Float32Array, xo: number, b: Uint8Array, v: DataView, o: number) {
  const scale = new Float32Array(16);
  let big = 0;
  for (let s = 0; s < 16; s++) {
    const [max] = signedMax(x, xo + 16 * s, 16);
    scale[s] = max / -4;
    if (Math.abs(scale[s]) > Math.abs(big)) big = scale[s];
  }
  const d = roundF16(big / -32);
  v.setUint16(o + 108, f32ToF16(d), true);
  b.fill(0, o, o + 108);
  for (let s = 0; s < 16; s++) {
    const ls = d ? Math.max(-32, Math.min(31, Math.round(scale[s] / d))) : 0;
    const u = ls + 32;
    b[o + 96 + (s & 7)] |= (u & 0xf) << (4 * (s >> 3));
    b[o + 104 + (s & 3)] |= (u >> 4) << (2 * (s >> 2));
    const n = s >> 3, j = (s >> 1) & 3, h = s & 1;
    for (let l = 0; l < 16; l++) {
      const q = ls ? Math.max(-4, Math.min(3, Math.round(x[xo + 16 * s + l] / (d * ls)))) + 4 : 4;
      b[o + 32 + 32 * n + 16 * h + l] |= (q & 3) << (2 * j);
      b[o + 16 * h + l] |= (q >> 2) << (4 * n + j);
    }
  }
}

/** The index of the IQ4_NL value nearest to t. */
function nearestIq4(t: number): number {
  let best = 0;
  for (let i = 1; i < 16; i++) if (Math.abs(KVALUES_IQ4NL[i] - t) < Math.abs(KVALUES_IQ4NL[best] - t)) best = i;
  return best;
}

/** 32 values at scale dl as IQ4_NL indices, packed in Q4_0 order at b[o..o+16). */
function packIq4(x: Float32Array, xo: number, dl: number, b: Uint8Array, o: number) {
  const q = Array.from({ length: 32 }, (_, j) => nearestIq4(dl ? x[xo + j] / dl : 0));
  packNibbles(q, b, o);
}

/** Q4_K (qmax 15) and Q5_K (qmax 31): 8 sub-blocks of 32, x ~ d*sc*q - dmin*m, with 6-bit sc, m. */
function quantizeKMin(x: Float32Array, xo: number, b: Uint8Array, v: DataView, o: number, qmax: number) {
  const scale = new Float32Array(8), min = new Float32Array(8);
  for (let s = 0; s < 8; s++) {
    const [mn, mx] = minMax(x, xo + 32 * s, 32);
    min[s] = -Math.min(mn, 0); // the format stores a non-negative offset subtracted from d*sc*q
    scale[s] = (mx + min[s]) / qmax;
  }
  const d = roundF16(Math.max(...scale) / 63), dmin = roundF16(Math.max(...min) / 63);
  v.setUint16(o, f32ToF16(d), true);
  v.setUint16(o + 2, f32ToF16(dmin), true);
  const sc = Array.from(scale, (s) => (d ? Math.min(63, Math.round(s / d)) : 0));
  const mq = Array.from(min, (m) => (dmin ? Math.min(63, Math.round(m / dmin)) : 0));
  // Pack 8 6-bit scales and mins into 12 bytes (inverse of scaleMinK4).
  for (let j = 0; j < 4; j++) {
    b[o + 4 + j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
    b[o + 8 + j] = (mq[j] & 63) | ((mq[j + 4] >> 4) << 6);
    b[o + 12 + j] = (sc[j + 4] & 0xf) | ((mq[j + 4] & 0xf) << 4);
  }
  const q = new Uint8Array(QK_K);
  for (let s = 0; s < 8; s++) {
    const step = d * sc[s], off = dmin * mq[s];
    for (let l = 0; l < 32; l++) {
      const qi = step ? Math.round((x[xo + 32 * s + l] + off) / step) : 0;
      q[32 * s + l] = Math.max(0, Math.min(qmax, qi));
    }
  }
  const hasHigh = qmax === 31;
  const qs = o + (hasHigh ? 48 : 16), qh = o + 16;
  if (hasHigh) b.fill(0, qh, qh + 32);
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) {
      const lo = q[64 * c + l], hi = q[64 * c + 32 + l];
      b[qs + 32 * c + l] = (lo & 0xf) | ((hi & 0xf) << 4);
      if (hasHigh) b[qh + l] |= ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1));
    }
  }
}

export function canQuantize(type: number): boolean {
  return QUANT[type as GGMLType] !== undefined;
}

/** Quantizes f32 values (a whole number of blocks) to `type`'s bytes. */
export function quantize(type: GGMLType, x: Float32Array): Uint8Array {
  const fn = QUANT[type];
  const tr = TYPE_TRAITS[type];
  if (!fn || !tr) throw new RangeError(`quantizing to ${typeName(type)} is not supported`);
  if (x.length % tr.blockSize !== 0) {
    throw new RangeError(`${x.length} values are not a whole number of ${typeName(type)} blocks of ${tr.blockSize}`);
  }
  const nBlocks = x.length / tr.blockSize;
  const b = new Uint8Array(nBlocks * tr.typeSize);
  const v = new DataView(b.buffer);
  for (let i = 0; i < nBlocks; i++) fn(x, i * tr.blockSize, b, v, i * tr.typeSize);
  return b;
}
