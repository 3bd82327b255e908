// The WASM CPU backend per weight type, one thread, in Node:
//  - kernel: one matrix-vector product of a 2048 x 2048 matrix (cpu.wasm's matmul, n = 1), rounds
//    interleaved over the types, the best kept;
//  - model: decode and prefill tok/s of the engine bench's MoE shape (moe-q4_k in engine.ts) made
//    in each type (.cache/bench/), through tools/bench/child/wasm-speed.ts, rounds interleaved.
// Q4_K first: the type the others are read against. Only when named (8 models of 60-105 MB).
//   npm run bench -- wasm-types
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { quantize } from '../../src/gguf/quant.ts';
import { GGMLType, typeName } from '../../src/gguf/types.ts';
import { CpuKernels } from '../../src/wasm-backend/kernels.ts';
import { MODELS, modelPath } from './engine.ts';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const TYPES = [GGMLType.Q4_K, GGMLType.Q4_0, GGMLType.Q8_0, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.IQ4_NL, GGMLType.IQ4_XS, GGMLType.MXFP4];
const PROMPT = Array.from({ length: 64 }, (_, i) => 10 + ((i * 37) % 1200));
const KERNEL_ROUNDS = 12, MODEL_ROUNDS = 2;

export const explicitOnly = true;

async function kernels(): Promise<Record<string, { msPerMatvec: number; gbPerS: number }>> {
  const rows = 2048, cols = 2048;
  const K = await CpuKernels.create();
  const wf = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * 0.1);
  const px = K.alloc(cols * 4, 'x'), py = K.alloc(rows * 4, 'y');
  K.f32(px, cols).set(Float32Array.from({ length: cols }, (_, i) => Math.cos(i * 0.11)));
  const mats = TYPES.map((type) => {
    const bytes = quantize(type, wf);
    return { type, w: K.put(bytes, typeName(type)), s: K.alloc(K.scratchBytes(type, cols, 1), 'scratch'), bytes: bytes.length, best: Infinity };
  });
  for (let r = 0; r < KERNEL_ROUNDS; r++) {
    for (const m of mats) {
      const t0 = performance.now();
      for (let i = 0; i < 20; i++) K.matmul(m.type, m.w, rows, cols, px, 1, py, m.s);
      m.best = Math.min(m.best, (performance.now() - t0) / 20);
    }
  }
  return Object.fromEntries(mats.map((m) => [typeName(m.type), { msPerMatvec: +m.best.toFixed(3), gbPerS: +(m.bytes / m.best / 1e6).toFixed(2) }]));
}

interface Speed { prefillTokS?: number; decodeTokS?: number; heapMB?: number; error?: string }

function wasmSpeed(model: string): Promise<Speed> {
  const args = JSON.stringify({ model, prompt: PROMPT, nDecode: 16, threads: 1 });
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'tools/bench/child/wasm-speed.ts'), args],
      { cwd: ROOT, timeout: 600_000, maxBuffer: 1 << 24 }, (err, stdout) => {
        try {
          done(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
        } catch {
          done({ error: `wasm-speed exited (${err?.code ?? err?.signal ?? 'no result'})` });
        }
      });
  });
}

export default async function bench() {
  const moe = MODELS.find((m) => m.name === 'moe-q4_k')!;
  const paths = TYPES.map((type) => modelPath({ ...moe, name: `moe-${typeName(type).toLowerCase()}`, type }));
  const best: Speed[] = TYPES.map(() => ({}));
  for (let r = 0; r < MODEL_ROUNDS; r++) {
    for (let i = 0; i < TYPES.length; i++) {
      process.stderr.write(`bench wasm-types: ${typeName(TYPES[i])} round ${r + 1}\n`);
      const s = await wasmSpeed(paths[i]);
      if (s.error ? !best[i].decodeTokS : (s.decodeTokS ?? 0) > (best[i].decodeTokS ?? 0)) best[i] = s;
    }
  }
  const round = (x?: number) => (x === undefined ? undefined : +x.toFixed(1));
  return {
    kernel: await kernels(),
    model: { hp: moe.hp, promptTokens: PROMPT.length, decodeTokens: 16, threads: 1,
      ...Object.fromEntries(TYPES.map((t, i) => [typeName(t), best[i].error ? { error: best[i].error } : { decodeTokS: round(best[i].decodeTokS), prefillTokS: round(best[i].prefillTokS), heapMB: round(best[i].heapMB) }])) },
  };
}
