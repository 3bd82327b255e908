// gpt-oss on the WebGPU engine against llama.cpp (node-llama-cpp) and the CPU reference: a factory
// gpt-oss laid out as the real files are (routed experts MXFP4, dense matrices Q8_0; biases, sinks
// and norms F32), with every gpt-oss mechanism: q/k/v and output biases, a sink logit per head,
// sliding-window attention (window 16) on even layers with their own RoPE base (10,000), YaRN
// (factor 32 over 4,096, base 150,000), a router bias with a softmax over the top-4 logits, expert
// biases and the clamped SwiGLU. The 20-token prompt is longer than the window and runs in
// batches of 8 (the tiled attention and the prefill matmuls), then 32 greedy steps one token at a
// time. Runs: resident experts with the software kernels, the same with the hardware kernels, and
// paged experts in the fewest slots (one token's 4: the prompt runs in rounds), whose logits must
// equal the resident run's bit for bit. Each run's tokens must be llama.cpp's outright, and every
// logit of every step within LOGIT_TOL of llama.cpp's (measured: 7.6e-6 in all three runs), on top
// of the engine suite's check against the CPU reference (tools/oracle/engine-check.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { GPUSession } from '../gpu/session.ts';
import { planModel } from '../model/plan.ts';
import { expectAgreement, gpuGreedy } from '../../tools/oracle/engine-check.ts';
import { LOGIT_TOL } from '../../tools/oracle/llamacpp-agreement.ts';
import { greedyResult, runJobs, type GreedyOutput } from '../../tools/oracle/llamacpp.ts';
import { WebGPUEngine, type EngineOptions } from './engine.ts';
import { ExpertPool } from './expert-pool.ts';
import { GPT_OSS } from '../../tools/factory/test-models.ts';

const N_TOKENS = 32;
const { window: WINDOW, nCtx: N_CTX, prompt: PROMPT, hp: HP } = GPT_OSS;
const DIR = '.cache/test-models';

let session: GPUSession;
let bytes: Uint8Array;
let oracle: GreedyOutput;
/** The resident software run's logits, for the paged run to equal. */
let resident: number[][] | undefined;

beforeAll(async () => {
  session = await GPUSession.create();
  bytes = GPT_OSS.make(GGMLType.MXFP4);
  mkdirSync(DIR, { recursive: true });
  const path = `${DIR}/engine-gpt-oss.gguf`;
  writeFileSync(path, bytes);
  [oracle] = (await runJobs([{ type: 'greedy', model: path, prompt: PROMPT, nTokens: N_TOKENS, logits: true, contextSize: N_CTX }])).map(greedyResult);
}, 300_000);

afterAll(() => session?.destroy());

async function run(opts: EngineOptions): Promise<GreedyOutput> {
  const engine = await WebGPUEngine.load(bytesSource(bytes), { session, nCtx: N_CTX, maxBatch: 8, kvType: 'f32', ...opts });
  try {
    if (opts.expertBudget) expect(engine.expertStats?.slots).toBe(HP.nExpertUsed);
    const out = await gpuGreedy(engine, PROMPT, N_TOKENS);
    if (opts.expertBudget) expect(engine.expertStats!.extraRounds).toBeGreaterThan(0);
    return out;
  } finally {
    engine.destroy();
  }
}

describe(`gpt-oss on WebGPU (MXFP4 experts, Q8_0 dense, window ${WINDOW}, 20-token prompt)`, () => {
  it.each([
    { label: 'resident, software kernels', opts: { kernels: 'software' } as EngineOptions },
    { label: 'paged in 4 slots, software kernels', opts: { kernels: 'software', paging: { overlap: true } } as EngineOptions, paged: true },
    { label: 'resident, hardware kernels', opts: { kernels: 'hardware' } as EngineOptions },
  ])('$label: llama.cpp\'s 32 greedy tokens, the reference\'s logits', async ({ label, opts, paged }) => {
    if (paged) {
      expect(resident, 'the resident run first').toBeDefined();
      const per = ExpertPool.bytesPerExpert(planModel(await readGGUF(bytesSource(bytes))));
      opts = { ...opts, expertBudget: HP.nExpertUsed! * per };
    }
    const gpu = await run(opts);
    expect(gpu.ids, `${label}: tokens vs llama.cpp's`).toEqual(oracle.ids);
    expect(await expectAgreement(bytes, PROMPT, gpu, oracle, { nCtx: N_CTX })).toBe(true);
    const logits = gpu.steps.map((s) => s.logits!);
    if (paged) for (let s = 0; s < N_TOKENS; s++) expect(logits[s], `step ${s}`).toEqual(resident![s]);
    else if (opts.kernels === 'software') resident = logits;
    let max = 0;
    for (let s = 0; s < N_TOKENS; s++) for (let i = 0; i < logits[s].length; i++) max = Math.max(max, Math.abs(logits[s][i] - oracle.steps[s].logits![i]));
    console.log(`gpt-oss ${label}: max |logit - llama.cpp's| over 32 steps ${max.toExponential(1)}`);
    expect(max).toBeLessThanOrEqual(LOGIT_TOL);
  });
});
