// Decode kernels on their own: each one timed over many launches in one submit, with napkin math
// (bytes it must read, achieved GB/s, fraction of the adapter's measured buffer-copy bandwidth);
// matvec in each kernel shape (software, hardware with and without subgroups).
// Run: node bin/run-ts.mjs tools/bench/gpu-kernels.ts [filter] (this device), or npm run bench
// (SwiftShader here and lavapipe in a child process).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quantize } from '../../src/gguf/quant.ts';
import { GGMLType, typeName } from '../../src/gguf/types.ts';
import { USAGE } from '../../src/gpu/buffers.ts';
import { actKind, GPU_TYPES } from '../../src/gpu/layout.ts';
import { runOps, type Op } from '../../src/gpu/op.ts';
import { AttentionOp } from '../../src/gpu/ops/attention.ts';
import { matvecOps } from '../../src/gpu/ops/matvec.ts';
import { createAct, quantOp } from '../../src/gpu/ops/quant.ts';
import { GPUSession } from '../../src/gpu/session.ts';
import type { KernelShape } from '../../src/gpu/variant.ts';
import { uploadWeight } from '../../src/gpu/weights.ts';

export interface KernelResult {
  kernel: string;
  shape: string;
  ms: number;
  bytes: number;
  gbs: number;
  /** Achieved bandwidth over the adapter's copy bandwidth. */
  ofCopy: number;
}

/** Wall time per launch of `ops`, over `reps` launches in one submit (best of `rounds`). */
async function time(session: GPUSession, ops: Op[], reps: number, rounds = 3): Promise<number> {
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

/** The kernels on this process's device. */
export async function measure(filter = ''): Promise<{ adapter: string; copyGBs: number; kernels: KernelResult[] }> {
  const session = await GPUSession.create();
  const out: KernelResult[] = [];
  try {
    const copyGBs = await copyBandwidth(session);
    const add = (kernel: string, shape: string, ms: number, bytes: number) => {
      const gbs = bytes / ms / 1e6;
      out.push({ kernel, shape, ms: +ms.toFixed(3), bytes, gbs: +gbs.toFixed(3), ofCopy: +(gbs / copyGBs).toFixed(3) });
    };
    // every kernel shape (src/gpu/variant.ts): software; hardware with subgroups where the
    // adapter has them, and with the workgroup-memory reduction
    const variants: [string, KernelShape, boolean][] = [['software', 'software', false], ['hardware-wg', 'hardware', false]];
    if (session.features.subgroups) variants.splice(1, 0, ['hardware-sg', 'hardware', true]);
    /** A decode matvec of n rows of k (random weights) in every shape, and its input conversion. */
    const matvec = async (type: GGMLType, n: number, k: number, shape: string, withQuant: boolean) => {
      const name = `matvec_${typeName(type).toLowerCase()}`;
      const bytes = quantize(type, Float32Array.from({ length: k * n }, (_, i) => Math.sin(i) * 0.05));
      const w = uploadWeight(session.device, session.buffers, name, type, k, n, 1, bytes, session.limits.maxStorageBufferBindingSize);
      const act = createAct(session, actKind(type, 'ggml'), k, 1, 'act');
      const y = session.buffers.create(4 * n, USAGE.STORAGE, 'y', 'scratch');
      for (const [variant, kernels, subgroups] of variants) {
        const ops = await matvecOps(session, { weight: w, act, y, kernels, subgroups });
        add(`${name} ${variant}`, shape, await time(session, ops, 10), w.bytes);
        if (!withQuant || variant === 'hardware-sg') continue;
        const x = session.buffers.create(4 * k, USAGE.STORAGE | USAGE.COPY_DST, 'x', 'scratch');
        const q = await quantOp(session, { x, rows: 1, out: act, kernels });
        add(`quant_${act.kind} ${variant.replace('-wg', '')}`, `1x${k}`, await time(session, [q], 50), 4 * k);
      }
    };
    for (const type of Object.keys(GPU_TYPES).map(Number) as GGMLType[]) {
      if (filter && !`matvec_${typeName(type).toLowerCase()}`.includes(filter)) continue;
      await matvec(type, 2048, 2048, '2048x2048', true);
    }
    // decode shapes of real models (rows x columns of one matrix; random weights, Q4_K, or Q8_0
    // where k is not a multiple of 256)
    if (!filter || 'shapes'.includes(filter)) {
      const shapes: [string, number, number, GGMLType?][] = [
        ['Qwen3-30B-A3B expert gate+up', 1536, 2048], ['Qwen3-30B-A3B expert down', 2048, 768], ['Qwen3-30B-A3B q', 4096, 2048],
        ['Llama-3.2-1B gate+up', 16384, 2048], ['Llama-3.2-1B down', 2048, 8192],
        ['gpt-oss-20b expert gate+up', 5760, 2880, GGMLType.Q8_0],
      ];
      for (const [what, n, k, type] of shapes) await matvec(type ?? GGMLType.Q4_K, n, k, `${what} ${n}x${k}`, false);
    }
    if (!filter || 'attention'.includes(filter)) {
      const nHead = 16, nHeadKv = 4, hd = 64, nKv = 1024;
      const kv = session.buffers.create(4 * nKv * nHeadKv * hd, USAGE.STORAGE, 'kv', 'scratch');
      const q = session.buffers.create(4 * nHead * hd, USAGE.STORAGE, 'q', 'scratch');
      const o = session.buffers.create(4 * nHead * hd, USAGE.STORAGE, 'o', 'scratch');
      const att = await AttentionOp.create(session, { nHead, nHeadKv, headDim: hd, nCtx: nKv, maxQueries: 1, q, kCache: kv, vCache: kv, out: o, scale: 0.125, softcap: 0, capScale: 0 });
      add('attention', `${nHead}/${nHeadKv} heads x ${hd}, ${nKv} positions`, await time(session, att.set(1, nKv - 1), 10), 2 * 4 * nKv * nHeadKv * hd);
    }
    return { adapter: session.adapterName, copyGBs: +copyGBs.toFixed(2), kernels: out };
  } finally {
    session.destroy();
  }
}

/** On SwiftShader (this process) and on lavapipe (a child under .cache/lavapipe/env, the device
 *  of the engine benchmark's comparison with llama.cpp). */
export default async function bench(filter = '') {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const env = join(root, '.cache/lavapipe/env');
  let lavapipe: unknown = { error: 'no .cache/lavapipe: run scripts/lavapipe.sh' };
  if (existsSync(env)) {
    try {
      const out = execFileSync(env, ['node', join(root, 'bin/run-ts.mjs'), fileURLToPath(import.meta.url), filter], { cwd: root, maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'ignore'] });
      lavapipe = JSON.parse(out.toString());
    } catch (e) {
      lavapipe = { error: String(e) };
    }
  }
  return { swiftshader: await measure(filter), lavapipe };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measure(process.argv[2] ?? '')));
}
