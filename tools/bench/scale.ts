// MoE at real scale: a GGUF with Qwen3-30B-A3B's exact shapes and Q4_K_M types (~18.5 GB, random
// weights: tools/factory/scale-model.ts) served by a loopback server, streamed into an empty fs
// store, and run on the WebGPU engine (SwiftShader) with a 1.5 GB GPU expert budget and a 4 GB RAM
// budget; its greedy tokens against llama.cpp's (node-llama-cpp, CPU, mmap) on the same file.
// Reports time to first token from an empty store (dense weights, then experts on demand) against
// the whole download, decode tok/s, hits per tier, bytes uploaded per token, prefetch accuracy and
// the engine process's peak RSS against dense weights + budgets + 1 GB. Not part of `npm run
// bench` without its name (it writes ~18.5 GB twice and takes a while):
//   npm run bench -- scale          (WEBMOE_SCALE_DIR: where the files go; default .cache/bench)
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openModel } from '../../src/fetch/open.ts';
import { fsStore } from '../../src/storage/fs.ts';
import { writeScaleModel } from '../factory/scale-model.ts';
import { greedy } from '../oracle/llamacpp.ts';
import { serveFile } from './file-server.ts';

export const explicitOnly = true;

const ROOT = new URL('../..', import.meta.url).pathname;
const N_TOKENS = 16;
const GPU_BUDGET = 1.5e9;
const RAM_BUDGET = 4e9;
// "The capital of France is" in Qwen3's vocabulary (the file carries it; any ids would do)
const PROMPT = [785, 6722, 315, 9625, 374];

// glibc keeps freed native memory (the software GPU's, ~0.6 GB here) unless told to trim: measured
// 7.7-7.8 GB peak RSS without this, 7.1 GB with it, on the same run.
const CHILD_ENV = { ...process.env, MALLOC_TRIM_THRESHOLD_: '0' };

function child(args: object): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'tools/bench/child/scale-engine.ts'), JSON.stringify(args)],
      { maxBuffer: 64 << 20, timeout: 4 * 3600_000, env: CHILD_ENV }, (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop();
        try { resolve(JSON.parse(line ?? '')); } catch { resolve({ error: `${err?.message ?? 'no output'}\n${stderr.slice(-2000)}` }); }
      });
  });
}

export default async function bench() {
  const dir = process.env.WEBMOE_SCALE_DIR ?? join(ROOT, '.cache/bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'qwen3-30b-a3b-random.q4_k_m.gguf');
  let writeS: number | null = null;
  if (!existsSync(path)) {
    const t = performance.now();
    await writeScaleModel(path, { preset: 'qwen3-30b-a3b', seed: 1, onProgress: (d, n) => process.stderr.write(`\rscale: writing ${(d / 1e9).toFixed(1)} of ${(n / 1e9).toFixed(1)} GB`) });
    writeS = +((performance.now() - t) / 1000).toFixed(1);
    process.stderr.write('\n');
  }
  const fileBytes = statSync(path).size;
  const server = await serveFile(path);
  try {
    // 1. experts on demand from an empty store, in a child process (its peak RSS is the engine's)
    const storeA = join(dir, 'scale-store-on-demand');
    rmSync(storeA, { recursive: true, force: true });
    process.stderr.write('scale: engine, experts on demand from an empty store\n');
    const engine = await child({ url: server.url, store: storeA, prompt: PROMPT, nDecode: N_TOKENS, expertBudget: GPU_BUDGET, ramBudget: RAM_BUDGET });
    rmSync(storeA, { recursive: true, force: true });
    // the same with a one-token prompt: its first token needs 8 experts per layer, not 40
    process.stderr.write('scale: engine, one-token prompt, from an empty store\n');
    const one = await child({ url: server.url, store: storeA, prompt: PROMPT.slice(0, 1), nDecode: 2, expertBudget: GPU_BUDGET, ramBudget: RAM_BUDGET });
    rmSync(storeA, { recursive: true, force: true });
    // 2. the whole download into an empty store
    const storeB = join(dir, 'scale-store-whole');
    rmSync(storeB, { recursive: true, force: true });
    process.stderr.write('scale: the whole download\n');
    const t = performance.now();
    const dl = await openModel({ url: server.url, store: fsStore(storeB) });
    await dl.start();
    const wholeDownloadS = +((performance.now() - t) / 1000).toFixed(1);
    await dl.close();
    rmSync(storeB, { recursive: true, force: true });
    // 3. llama.cpp on the same file
    process.stderr.write('scale: llama.cpp\n');
    const t3 = performance.now();
    const ref = await greedy(path, PROMPT, N_TOKENS);
    const llamaS = +((performance.now() - t3) / 1000).toFixed(1);
    const ids = engine.ids as number[] | undefined;
    const gpu = engine.gpu as { denseWeightsMB: number } | undefined;
    const boundMB = gpu ? gpu.denseWeightsMB + (GPU_BUDGET + RAM_BUDGET) / 1e6 + 1000 : null;
    return {
      file: { bytes: fileBytes, writeS },
      budgets: { gpuMB: GPU_BUDGET / 1e6, ramMB: RAM_BUDGET / 1e6 },
      engine,
      wholeDownloadS,
      firstTokenVsWholeDownload: typeof engine.firstTokenS === 'number' ? +(engine.firstTokenS / wholeDownloadS).toFixed(3) : null,
      oneTokenPrompt: { firstTokenS: one.firstTokenS, fetchedAtFirstTokenMB: one.fetchedAtFirstTokenMB, vsWholeDownload: typeof one.firstTokenS === 'number' ? +(one.firstTokenS / wholeDownloadS).toFixed(3) : null, error: one.error },
      allocator: 'glibc with MALLOC_TRIM_THRESHOLD_=0 in the engine process',
      llamacpp: { ids: ref.ids, seconds: llamaS, top2LogitGaps: ref.steps.map((s) => (s.top.length > 1 ? +Math.log(s.top[0][1] / s.top[1][1]).toFixed(3) : null)) },
      sameGreedyTokens: ids !== undefined && JSON.stringify(ids) === JSON.stringify(ref.ids),
      peakRss: { engineMB: engine.peakRssMB, boundMB, within: boundMB !== null && (engine.peakRssMB as number) <= boundMB },
    };
  } finally {
    await server.close();
  }
}
