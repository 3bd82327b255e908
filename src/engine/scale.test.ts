// Paging at scale against llama.cpp: the ~300 MB sibling of Qwen3-30B-A3B (tools/factory/
// scale-model.ts: n_embd 2048, 32/4 heads of 128, 24 experts of width 768 top-8, 4 layers) run on
// the WebGPU engine with a GPU budget of 10% of its expert bytes and a RAM tier of 10% gives
// llama.cpp's greedy tokens (node-llama-cpp, CPU), and its logits equal the resident engine's
// bit for bit. The full-size file is `npm run bench -- scale`.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeScaleModel } from '../../tools/factory/scale-model.ts';
import { greedy } from '../../tools/oracle/llamacpp.ts';
import { fileSource } from '../gguf/source-node.ts';
import { readGGUF } from '../gguf/reader.ts';
import { GPUSession } from '../gpu/session.ts';
import { planModel } from '../model/plan.ts';
import { WebGPUEngine } from './engine.ts';
import { ExpertPool } from './expert-pool.ts';

const DIR = '.cache/test-models';
const FILE = `${DIR}/qwen3-30b-a3b-mini.gguf`;
const PROMPT = [464, 1468, 2156, 379, 262, 886, 286, 262, 2975]; // GPT-2 ids: "The old house at the end of the road"
const N = 16;

let session: GPUSession;
beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  if (!existsSync(FILE)) await writeScaleModel(FILE, { preset: 'qwen3-30b-a3b-mini', seed: 1 });
  session = await GPUSession.create();
}, 300_000);
afterAll(() => session?.destroy());

describe('the Qwen3-30B-A3B sibling, paged', () => {
  it('10% of the experts on the GPU, 10% in RAM: llama.cpp\'s greedy tokens; logits equal the resident engine\'s', { timeout: 600_000 }, async () => {
    const plan = planModel(await readGGUF(fileSource(FILE)));
    const all = plan.hp.nLayer * plan.hp.nExpert;
    const per = ExpertPool.bytesPerExpert(plan);
    const budget = Math.floor(0.1 * all * per);
    const llama = await greedy(FILE, PROMPT, N);
    const source = fileSource(FILE);
    const paged = await WebGPUEngine.load(source, { session, nCtx: 64, maxBatch: 16, expertBudget: budget, ramBudget: budget });
    const logits: Float32Array[] = [];
    const ids: number[] = [];
    try {
      let r = await paged.forward(PROMPT, { logits: 'last' });
      for (let i = 0; i < N; i++) {
        ids.push(r.next);
        logits.push(r.logits![0]);
        if (i + 1 < N) r = await paged.forward([r.next], { logits: 'last' });
      }
      const st = paged.expertStats!;
      expect(st.gpuBytes).toBeLessThanOrEqual(budget);
      expect(st.ramPeakBytes).toBeLessThanOrEqual(budget);
      expect(st.misses).toBeGreaterThan(N); // experts really came and went
    } finally {
      paged.destroy();
    }
    expect(ids).toEqual(llama.ids);
    // the same tokens through the resident engine: the same logits, bit for bit
    const resident = await WebGPUEngine.load(source, { session, nCtx: 64, maxBatch: 16 });
    try {
      let r = await resident.forward(PROMPT, { logits: 'last' });
      for (let i = 0; i < N; i++) {
        expect(r.logits![0], `step ${i}`).toEqual(logits[i]);
        if (i + 1 < N) r = await resident.forward([ids[i]], { logits: 'last' });
      }
    } finally {
      resident.destroy();
      await source.close?.();
    }
  });
});
