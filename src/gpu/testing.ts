// Test helpers for the kernels: a shared device, buffer upload and readback, seeded random data,
// and plain CPU versions of the activation conversions (ggml's algorithms in f32 arithmetic via
// Math.fround), written from ggml's C code independently of the kernels.
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

/** Largest |got - want| relative to the largest |want| (a scale-free error for a whole vector). */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / (scale || 1);
}
