// The reference's Q2_K, IQ4_NL, Q4_0 and Q8_0 products are llama.cpp's own (ggml-dot.ts): teacher forced with
// llama.cpp's greedy tokens, its logits equal llama.cpp's at every step, with no rounding to
// overturn. The two files are the ones whose exact sums parted from llama.cpp: an IQ4_NL olmoe
// (0.34 apart from step 4 on, a Q8_0 block scale 2 ulps from its f16 midpoint) and a Q2_K
// ERNIE-4.5 MoE (0.89 apart from step 20, tokens from step 21). The 6-token prompt takes the
// dense matrices through llama.cpp's 4-row gemm (tokens 0..3) and its gemv (4, 5); the 1257-row
// output matrix is not repacked (vec_dot).
// With an F16 cache, a 512-token prompt (qwen3moe Q8_0, engine-f16.test.ts's long model) checks
// the f16 attention products in llama.cpp's lanes (dotLanes: tinyBLAS for the prompt,
// ggml_vec_dot_f16 for a token) and RoPE's FMA contraction (ops.ts rope): 0.27 apart at the
// prompt step with exact f16 sums, 0.39 without the FMA; with both, bit for bit.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { rng } from '../gpu/testing.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { greedyResult, runJobs, type GreedyOutput } from '../../tools/oracle/llamacpp.ts';
import { ReferenceModel } from './model.ts';
import { argmax } from './ops.ts';

const PROMPT = [11, 250, 3, 97, 1000, 42];
const N_TOKENS = 24;
const CASES = [
  { arch: 'olmoe', type: GGMLType.IQ4_NL },
  { arch: 'ernie4_5-moe', type: GGMLType.Q2_K, hp: { nFfShexp: 256 } },
  { arch: 'qwen3moe', type: GGMLType.Q4_0 }, // repacked like IQ4_NL: bit for bit at every step
  // Q8_0 is never repacked on x86: vec_dot's 8 lanes, and the same lanes in the prompt's batch
  // (llamafile's tinyBLAS_Q0_AVX). Exact sums: 0.47 apart at step 5; these lanes: bit for bit.
  { arch: 'qwen3moe', type: GGMLType.Q8_0 },
];

let dir: string;
const models: Uint8Array[] = [];
const oracle: GreedyOutput[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmoe-ggml-dot-'));
  const paths = CASES.map((c, i) => {
    models[i] = makeModel({ arch: c.arch, type: c.type, seed: 7, hp: c.hp });
    const path = join(dir, `${i}.gguf`);
    writeFileSync(path, models[i]);
    return path;
  });
  const results = await runJobs(paths.map((model) => ({ type: 'greedy', model, prompt: PROMPT, nTokens: N_TOKENS, logits: true, contextSize: 64 })));
  results.forEach((r, i) => (oracle[i] = greedyResult(r)));
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("Q2_K, IQ4_NL, Q4_0 and Q8_0 products as llama.cpp's x86 kernels take them", () => {
  it.each(CASES.map((c, i) => ({ i, name: `${c.arch} ${GGMLType[c.type]}` })))('$name: llama.cpp\'s logits at every step', async ({ i }) => {
    const ref = await ReferenceModel.load(bytesSource(models[i]), { numerics: 'ggml', nCtx: 64 });
    const llama = oracle[i];
    let logits = ref.forward(PROMPT)[0];
    let worst = 0;
    for (let s = 0; s < N_TOKENS; s++) {
      const want = llama.steps[s].logits!;
      for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(logits[j] - want[j]));
      expect(argmax(logits), `step ${s}`).toBe(llama.ids[s]);
      if (s + 1 < N_TOKENS) logits = ref.forward([llama.ids[s]])[0];
    }
    // other ops still sum in another order (a few f32 ulps of logits ~50); a turned rounding is ~0.1-1
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('F16 cache: attention products in llama.cpp\'s lanes, RoPE with its FMA', () => {
  it('qwen3moe Q8_0, a 512-token prompt then a token: llama.cpp\'s logits', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 11 });
    const r = rng(5);
    const prompt = Array.from({ length: 512 }, () => r.int(1200));
    const path = join(dir, 'f16-long.gguf');
    writeFileSync(path, bytes);
    const [res] = await runJobs([{ type: 'greedy', model: path, prompt, nTokens: 2, logits: true, contextSize: 768, kvType: 'f16' }]);
    const llama = greedyResult(res);
    const ref = await ReferenceModel.load(bytesSource(bytes), { numerics: 'ggml', nCtx: 768, kvType: 'f16' });
    let logits = ref.forward(prompt)[0];
    let worst = 0;
    for (let s = 0; s < 2; s++) {
      const want = llama.steps[s].logits!;
      for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(logits[j] - want[j]));
      expect(argmax(logits), `step ${s}`).toBe(llama.ids[s]);
      if (s === 0) logits = ref.forward([llama.ids[0]])[0];
    }
    expect(worst).toBeLessThan(1e-4);
  }, 120_000);
});
