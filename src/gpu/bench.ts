// Decode kernels timed on their own, on any session (Node's Dawn for tools/bench/gpu-kernels.ts,
// the visitor's adapter for the site's bench.html): each one over many launches in one submit,
// with napkin math (bytes it must read, achieved GB/s, fraction of the adapter's measured
// buffer-copy bandwidth); matvec in each kernel shape (software, hardware with and without
// subgroups); with `prefill`, the prefill matmul in each shape (software, hardware) on a batch of
// tokens, also in GFLOP/s. Random weights (64 quantized rows repeated): only speed is measured
// here (the kernels' results are tested in src/gpu/ops/*.test.ts).
import { quantize } from '../gguf/quant.ts';
import { GGMLType, typeName } from '../gguf/types.ts';
import { USAGE } from './buffers.ts';
import { actKind, GPU_TYPES } from './layout.ts';
import { runOps, type Op } from './op.ts';
import { AttentionOp } from './ops/attention.ts';
import { AttentionHwOp } from './ops/attention-hw.ts';
import { MatmulOp } from './ops/matmul.ts';
import { matvecOps } from './ops/matvec.ts';
import { createAct, quantOp } from './ops/quant.ts';
import type { GPUSession } from './session.ts';
import type { KvType } from './shaders.ts';
import type { KernelShape } from './variant.ts';
import { uploadWeight } from './weights.ts';

export interface KernelResult {
  kernel: string;
  shape: string;
  ms: number;
  bytes: number;
  gbs: number;
  /** Achieved bandwidth over the adapter's copy bandwidth. */
  ofCopy: number;
  /** Arithmetic rate (matmul: 2 n k tokens per launch). */
  gflops?: number;
}

export interface KernelBenchResult {
  adapter: string;
  copyGBs: number;
  kernels: KernelResult[];
}

/** A decode matrix of a real model: rows x columns, and its usual weight type there. */
export interface DecodeShape {
  name: string;
  n: number;
  k: number;
  type: GGMLType;
}

/** Decode shapes of real models (one matrix each; Q4_K, or Q8_0 where k is not a multiple of 256). */
export const DECODE_SHAPES: readonly DecodeShape[] = [
  { name: 'Qwen3-30B-A3B expert gate+up', n: 1536, k: 2048, type: GGMLType.Q4_K },
  { name: 'Qwen3-30B-A3B expert down', n: 2048, k: 768, type: GGMLType.Q4_K },
  { name: 'Qwen3-30B-A3B q', n: 4096, k: 2048, type: GGMLType.Q4_K },
  { name: 'Llama-3.2-1B gate+up', n: 16384, k: 2048, type: GGMLType.Q4_K },
  { name: 'Llama-3.2-1B down', n: 2048, k: 8192, type: GGMLType.Q4_K },
  { name: 'gpt-oss-20b expert gate+up', n: 5760, k: 2880, type: GGMLType.Q8_0 },
];

/** Prefill matrices of real models (the matmul, times PREFILL_TOKENS tokens), and two more
 *  weight types at 2048x2048. */
export const PREFILL_SHAPES: readonly DecodeShape[] = [
  { name: 'Llama-3.2-1B q', n: 2048, k: 2048, type: GGMLType.Q4_K },
  { name: 'Llama-3.2-1B gate+up', n: 16384, k: 2048, type: GGMLType.Q4_K },
  { name: 'Llama-3.2-1B down', n: 2048, k: 8192, type: GGMLType.Q4_K },
  { name: 'Qwen3-30B-A3B q', n: 4096, k: 2048, type: GGMLType.Q4_K },
  { name: 'Q8_0', n: 2048, k: 2048, type: GGMLType.Q8_0 },
  { name: 'Q6_K', n: 2048, k: 2048, type: GGMLType.Q6_K },
];
export const PREFILL_TOKENS = 64;

export interface KernelBenchOptions {
  /** Weight types of the 2048x2048 matvec (and its input conversion); default every GPU type. */
  types?: readonly GGMLType[];
  /** Decode shapes to time in every kernel shape; default DECODE_SHAPES. */
  shapes?: readonly DecodeShape[];
  /** Prefill shapes to time the matmul on in each shape (PREFILL_TOKENS tokens, one launch per
   *  round); default none. */
  prefill?: readonly DecodeShape[];
  /** Time the decode attention kernels (attentionVariants: 16/4 heads x 64, 1024 positions);
   *  default true. */
  attention?: boolean;
  /** Launches per timed submit (matvec; the conversions take 5x as many); default 10. */
  reps?: number;
  /** Timed submits, the best kept; default 3. */
  rounds?: number;
  /** Bytes of each buffer of the copy measurement; default 64 MiB. */
  copyBytes?: number;
  /** Called after each measurement (copy bandwidth first, as kernel 'copy'). */
  onResult?: (r: KernelResult) => void;
}

/** n rows of k of `type` on the GPU: 64 rows quantized, repeated down the matrix (the kernels
 *  read every byte whatever it holds, and quantizing tens of millions of values in JS would take
 *  longer than the timing). */
function randomWeight(session: GPUSession, type: GGMLType, n: number, k: number, name: string) {
  const rows = Math.min(n, 64);
  const some = quantize(type, Float32Array.from({ length: k * rows }, (_, i) => Math.sin(i) * 0.05));
  const rowBytes = some.length / rows;
  const bytes = new Uint8Array(rowBytes * n);
  for (let r = 0; r < n; r += rows) bytes.set(some.subarray(0, rowBytes * Math.min(rows, n - r)), rowBytes * r);
  return uploadWeight(session.device, session.buffers, name, type, k, n, 1, bytes, session.limits.maxStorageBufferBindingSize);
}

/** Wall time per launch of `ops`, over `reps` launches in one submit (best of `rounds`). */
async function time(session: GPUSession, ops: Op[], reps: number, rounds: number): Promise<number> {
  let best = Infinity;
  runOps(session, ops);
  await session.device.queue.onSubmittedWorkDone();
  for (let r = 0; r < rounds; r++) {
    const all = Array.from({ length: reps }, () => ops).flat();
    const t0 = performance.now();
    runOps(session, all);
    await session.device.queue.onSubmittedWorkDone();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  session.check();
  return best;
}

/** Read+write bandwidth of buffer copies on the device (GB/s, bytes read + written). */
export async function copyBandwidth(session: GPUSession, bytes = 64 << 20): Promise<number> {
  const mk = () => session.buffers.create(bytes, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, 'copy', 'scratch');
  const a = mk(), b = mk();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const enc = session.device.createCommandEncoder();
    for (let i = 0; i < 4; i++) enc.copyBufferToBuffer(a, 0, b, 0, bytes);
    const t0 = performance.now();
    session.device.queue.submit([enc.finish()]);
    await session.device.queue.onSubmittedWorkDone();
    best = Math.min(best, (performance.now() - t0) / 4);
  }
  session.buffers.destroy(a);
  session.buffers.destroy(b);
  return (2 * bytes) / best / 1e6;
}

/** The kernel shapes this session can run, named as in the results: software; hardware with
 *  subgroups where the adapter has them; hardware with the workgroup-memory reduction. */
export function kernelVariants(session: GPUSession): [name: string, shape: KernelShape, subgroups: boolean][] {
  const variants: [string, KernelShape, boolean][] = [['software', 'software', false], ['hardware-wg', 'hardware', false]];
  if (session.features.subgroups) variants.splice(1, 0, ['hardware-sg', 'hardware', true]);
  return variants;
}

/** The decode attention kernels this session can run, named as in the results: attention.wgsl
 *  (software) and attention_hw.wgsl (hardware, softmax statistics by subgroups where the adapter
 *  has them and through workgroup memory), on an f32 cache and, with shader-f16, an f16 one. */
export function attentionVariants(session: GPUSession): { name: string; kvType: KvType; kernels: KernelShape; subgroups: boolean }[] {
  const kvTypes: KvType[] = session.features.f16 ? ['f32', 'f16'] : ['f32'];
  return kvTypes.flatMap((kvType) => kernelVariants(session).map(([v, kernels, subgroups]) => ({ name: `attention ${kvType} ${v}`, kvType, kernels, subgroups })));
}

/** The decode kernels (and the `prefill` matmuls) on `session`'s device (the session stays the caller's). */
export async function measureKernels(session: GPUSession, opts: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const reps = opts.reps ?? 10, rounds = opts.rounds ?? 3;
  const out: KernelResult[] = [];
  const copyGBs = await copyBandwidth(session, opts.copyBytes);
  opts.onResult?.({ kernel: 'copy', shape: 'buffer to buffer', ms: 0, bytes: 0, gbs: +copyGBs.toFixed(3), ofCopy: 1 });
  const add = (kernel: string, shape: string, ms: number, bytes: number, flops = 0) => {
    const gbs = bytes / ms / 1e6;
    const r: KernelResult = { kernel, shape, ms: +ms.toFixed(3), bytes, gbs: +gbs.toFixed(3), ofCopy: +(gbs / copyGBs).toFixed(3) };
    if (flops) r.gflops = +(flops / ms / 1e6).toFixed(3);
    out.push(r);
    opts.onResult?.(r);
  };
  const variants = kernelVariants(session);
  /** A decode matvec of n rows of k (random weights) in every shape, and its input conversion. */
  const matvec = async (type: GGMLType, n: number, k: number, shape: string, withQuant: boolean) => {
    const name = `matvec_${typeName(type).toLowerCase()}`;
    const w = randomWeight(session, type, n, k, name);
    const act = createAct(session, actKind(type, 'ggml'), k, 1, 'act');
    const y = session.buffers.create(4 * n, USAGE.STORAGE, 'y', 'scratch');
    for (const [variant, kernels, subgroups] of variants) {
      const ops = await matvecOps(session, { weight: w, act, y, kernels, subgroups });
      add(`${name} ${variant}`, shape, await time(session, ops, reps, rounds), w.bytes);
      if (!withQuant || variant === 'hardware-sg') continue;
      const x = session.buffers.create(4 * k, USAGE.STORAGE | USAGE.COPY_DST, 'x', 'scratch');
      const q = await quantOp(session, { x, rows: 1, out: act, kernels });
      add(`quant_${act.kind} ${variant.replace('-wg', '')}`, `1x${k}`, await time(session, [q], 5 * reps, rounds), 4 * k);
    }
  };
  for (const type of opts.types ?? (Object.keys(GPU_TYPES).map(Number) as GGMLType[])) await matvec(type, 2048, 2048, '2048x2048', true);
  for (const s of opts.shapes ?? DECODE_SHAPES) await matvec(s.type, s.n, s.k, `${s.name} ${s.n}x${s.k}`, false);
  for (const s of opts.prefill ?? []) {
    // the prefill product of PREFILL_TOKENS tokens: weight bytes read (at least once), 2 n k flops a token
    const tokens = PREFILL_TOKENS;
    const name = `matmul_${typeName(s.type).toLowerCase()}`;
    const w = randomWeight(session, s.type, s.n, s.k, name);
    const act = createAct(session, actKind(s.type, 'ggml'), s.k, tokens, 'act');
    const y = session.buffers.create(4 * s.n * tokens, USAGE.STORAGE, 'y', 'scratch');
    for (const kernels of ['software', 'hardware'] as const) {
      const mm = await MatmulOp.create(session, { weight: w, act, y, kernels });
      // one launch a round, at most 2 rounds: a launch takes seconds on a software adapter
      const ms = await time(session, mm.set(tokens), 1, Math.min(rounds, 2));
      add(`${name} ${kernels}`, `${s.name} ${s.n}x${s.k} x ${tokens} tokens`, ms, w.bytes, 2 * s.n * s.k * tokens);
    }
  }
  if (opts.attention ?? true) {
    const nHead = 16, nHeadKv = 4, hd = 64, nKv = 1024;
    const kv = session.buffers.create(4 * nKv * nHeadKv * hd, USAGE.STORAGE, 'kv', 'scratch');
    const q = session.buffers.create(4 * nHead * hd, USAGE.STORAGE, 'q', 'scratch');
    const o = session.buffers.create(4 * nHead * hd, USAGE.STORAGE, 'o', 'scratch');
    const shape = `${nHead}/${nHeadKv} heads x ${hd}, ${nKv} positions`;
    for (const v of attentionVariants(session)) {
      const args = { nHead, nHeadKv, headDim: hd, nCtx: nKv, maxQueries: 1, q, kCache: kv, vCache: kv, out: o, scale: 0.125, softcap: 0, capScale: 0, kvType: v.kvType };
      const op = v.kernels === 'software' ? await AttentionOp.create(session, args) : await AttentionHwOp.create(session, { ...args, subgroups: v.subgroups });
      add(v.name, shape, await time(session, op.set(1, nKv - 1), reps, rounds), 2 * (v.kvType === 'f16' ? 2 : 4) * nKv * nHeadKv * hd);
    }
  }
  return { adapter: session.adapterName, copyGBs: +copyGBs.toFixed(2), kernels: out };
}
