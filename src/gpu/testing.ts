// Test helpers for the kernels: a shared device, buffer upload and readback, seeded random data,
// plain CPU versions of the activation conversions (ggml's algorithms in f32 arithmetic via
// Math.fround), written from ggml's C code independently of the kernels, and attention in
// float64 (attention.test.ts, attention-hw.test.ts).
import { roundF16, f32ToBf16, bf16ToF32 } from '../gguf/half.ts';
import { USAGE } from './buffers.ts';
import { parseActKind, type ActKind } from './layout.ts';
import { GPUSession } from './session.ts';

const fr = Math.fround;

export async function testSession(): Promise<GPUSession> {
  return GPUSession.create();
}

/** Kernels on an f16 KV cache need shader-f16: skips the test where the adapter lacks it (as
 *  SwiftShader does), unless WEBMOE_REQUIRE_F16 is set (scripts/test.sh runs the GPU tests a
 *  second time on lavapipe, which has it), where a missing feature fails the test. */
export function needF16(session: GPUSession, skip: (note: string) => void): void {
  if (session.features.f16) return;
  if (process.env.WEBMOE_REQUIRE_F16) throw new Error(`WEBMOE_REQUIRE_F16 is set, but ${session.adapterName} has no shader-f16`);
  skip(`${session.adapterName} has no shader-f16`);
}

export function upload(session: GPUSession, data: ArrayBufferView, label = 'test'): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const b = session.buffers.create(size, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, label, 'io');
  session.device.queue.writeBuffer(b, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  return b;
}

export function zeros(session: GPUSession, bytes: number, label = 'test'): GPUBuffer {
  return session.buffers.create(Math.max(16, Math.ceil(bytes / 16) * 16), USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, label, 'io');
}

export async function readF32(session: GPUSession, b: GPUBuffer, n: number, offset = 0): Promise<Float32Array> {
  return new Float32Array(await readBytes(session, b, 4 * n, 4 * offset));
}

export async function readU32(session: GPUSession, b: GPUBuffer, n: number, offset = 0): Promise<Uint32Array> {
  return new Uint32Array(await readBytes(session, b, 4 * n, 4 * offset));
}

export async function readBytes(session: GPUSession, b: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const size = Math.ceil(bytes / 4) * 4;
  const rb = session.device.createBuffer({ size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
  const enc = session.device.createCommandEncoder();
  enc.copyBufferToBuffer(b, offset, rb, 0, size);
  session.device.queue.submit([enc.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const out = rb.getMappedRange().slice(0, bytes);
  rb.unmap();
  rb.destroy();
  session.check();
  return out;
}

/** The shared seeded PRNG (src/util/random.ts). */
export { seededRandom as rng } from '../util/random.ts';

/** Round half to even (ggml's nearest_int and _mm_round_ps). */
export function rne(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** CPU version of quant_act.wgsl: converted values (without the positional scaling, which the
 *  dequantizers undo) and per-32-block sums (S.x, S.y) of the split or s32 layout. */
export function cpuConvert(actKind: ActKind, x: Float32Array): { a: Float64Array; s: Float64Array } {
  const kind = parseActKind(actKind).conv;
  const n = x.length, a = new Float64Array(n), s = new Float64Array((n / 32) * 2);
  const blockSums = (b: number, s32: boolean) => {
    let lo = 0, hi = 0;
    for (let j = 0; j < 32; j++) (j < 16 ? (lo += a[32 * b + j]) : (hi += a[32 * b + j]));
    s[2 * b] = s32 ? lo + hi : lo;
    s[2 * b + 1] = hi;
  };
  if (kind === 'none' || kind === 'none_s32' || kind === 'f16' || kind === 'bf16') {
    for (let i = 0; i < n; i++) a[i] = kind === 'f16' ? roundF16(x[i]) : kind === 'bf16' ? bf16ToF32(f32ToBf16(x[i])) : x[i];
    for (let b = 0; b < n / 32; b++) blockSums(b, kind === 'none_s32');
  } else if (kind === 'q8_0' || kind === 'q8_1') {
    for (let b = 0; b < n / 32; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
      const d = fr(amax / 127), id = amax ? fr(127 / amax) : 0, d16 = roundF16(d);
      let lo = 0, hi = 0;
      for (let j = 0; j < 32; j++) {
        const q = rne(fr(x[32 * b + j] * id));
        a[32 * b + j] = d16 * q;
        j < 16 ? (lo += q) : (hi += q);
      }
      s[2 * b] = kind === 'q8_1' ? roundF16(fr(d * (lo + hi))) : d16 * lo;
      s[2 * b + 1] = d16 * hi;
    }
  } else {
    for (let o = 0; o < n; o += 256) {
      let amax = 0, max = 0;
      for (let j = 0; j < 256; j++) if (Math.abs(x[o + j]) > amax) { amax = Math.abs(x[o + j]); max = x[o + j]; }
      const iscale = amax ? fr(-127 / max) : 0, d = amax ? fr(1 / iscale) : 0;
      for (let b = 0; b < 8; b++) {
        let lo = 0, hi = 0;
        for (let j = 0; j < 32; j++) {
          const q = Math.min(127, rne(fr(iscale * x[o + 32 * b + j])));
          a[o + 32 * b + j] = fr(d * q);
          j < 16 ? (lo += q) : (hi += q);
        }
        s[(o / 32 + b) * 2] = fr(d * lo);
        s[(o / 32 + b) * 2 + 1] = fr(d * hi);
      }
    }
  }
  return { a, s };
}

/** Largest |got - want| relative to the largest |want| (a scale-free error for a whole vector),
 *  each output's `slack` (if given) forgiven. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>, slack?: ArrayLike<number>): number {
  let err = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]) - (slack ? slack[i] : 0));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / (scale || 1);
}

/** An attention kernel test's shape: `queries` causal queries at positions pos0.., nHead query
 *  heads over nHeadKv KV heads of headDim, Grok's soft cap (0: off), gpt-oss's sliding window
 *  (positions seen) and sink logits. */
export interface AttentionCase { nHead: number; nHeadKv: number; headDim: number; queries: number; pos0: number; softcap: number; window?: number; sinks?: boolean }

/** Outputs (queries, nHead, headDim) in float64: what attention.wgsl computes from K and V
 *  (nCtx, nHeadKv * headDim), q (queries, nHead * headDim) and the sinks (nHead) as the kernel
 *  sees them (f16 cache: the caller rounds K, V and q to f16); with f16, p = f16(e / l) as ggml's
 *  f16 cache takes it (src/reference/attention.ts). `either(p)`, if given: how far a weight p
 *  may move an output per unit of |V| (returned summed per output as `slack`). */
export function attentionRef(
  c: AttentionCase, x: { k: Float32Array; v: Float32Array; q: Float32Array; sinks?: Float32Array },
  o: { scale: number; capScale: number; f16: boolean; either?: (p: number) => number },
): { want: Float64Array; slack: Float64Array } {
  const kv = c.nHeadKv * c.headDim, qd = c.nHead * c.headDim;
  const want = new Float64Array(c.queries * qd), slack = new Float64Array(c.queries * qd);
  const group = c.nHead / c.nHeadKv;
  for (let z = 0; z < c.queries; z++) {
    const n = c.pos0 + z + 1;
    const first = c.window ? Math.max(0, n - c.window) : 0;
    for (let h = 0; h < c.nHead; h++) {
      const ko = Math.floor(h / group) * c.headDim, qo = z * qd + h * c.headDim;
      const s = Array.from({ length: n }, (_, p) => {
        if (p < first) return -Infinity;
        let d = 0;
        for (let i = 0; i < c.headDim; i++) d += x.k[p * kv + ko + i] * x.q[qo + i];
        return c.softcap ? Math.tanh(d * o.capScale) * c.softcap : d * o.scale;
      });
      const sink = x.sinks ? x.sinks[h] : -Infinity;
      const m = Math.max(...s, sink);
      const e = s.map((v) => Math.exp(v - m));
      const l = e.reduce((a, b) => a + b, 0) + Math.exp(sink - m);
      // f32 cache: sum e * V, then / l; f16: the rounded weights
      const w = o.f16 ? e.map((v) => roundF16(fr(v / l))) : e;
      const either = o.either ? e.map((v) => o.either!(v / l)) : undefined;
      for (let i = 0; i < c.headDim; i++) {
        let acc = 0, sl = 0;
        for (let p = 0; p < n; p++) {
          acc += w[p] * x.v[p * kv + ko + i];
          if (either) sl += either[p] * Math.abs(x.v[p * kv + ko + i]);
        }
        want[qo + i] = o.f16 ? acc : acc / l;
        slack[qo + i] = sl;
      }
    }
  }
  return { want, slack };
}
