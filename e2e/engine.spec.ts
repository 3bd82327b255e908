// The WebGPU engine in headless Chromium (SwiftShader), inside a module worker: factory models are
// made in the test process and served to the page; the greedy tokens and the prompt's logits must
// equal the CPU reference's (src/reference, 'ggml' numerics), computed here. The default kernels
// (software shapes on SwiftShader) and, for the MoE model, the hardware shapes.
import { expect, test } from '@playwright/test';
import { GGMLType } from '../src/gguf/types.ts';
import { bytesSource } from '../src/gguf/source.ts';
import { greedy } from '../src/reference/generate.ts';
import { ReferenceModel } from '../src/reference/model.ts';
import { makeModel } from '../tools/factory/make-model.ts';
import type { WorkerReply } from './pages/engine-protocol.ts';

const PROMPT = [11, 250, 3, 97, 1000, 42];
const N_TOKENS = 32;

const CASES = [
  { arch: 'qwen3moe', type: GGMLType.Q4_K, kernels: 'auto' as const },
  { arch: 'llama', type: GGMLType.Q8_0, kernels: 'auto' as const },
  { arch: 'qwen3moe', type: GGMLType.Q4_K, kernels: 'hardware' as const },
];
for (const c of CASES) {
  test(`engine in a worker: ${c.arch} ${GGMLType[c.type]}, ${c.kernels} kernels, generates what the CPU reference does`, async ({ page }) => {
    test.setTimeout(300_000);
    const bytes = makeModel({ arch: c.arch, type: c.type, seed: 7 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route('**/models/e2e.gguf', (route) => route.fulfill({ body: Buffer.from(bytes), contentType: 'application/octet-stream' }));
    await page.goto('/e2e/pages/engine.html');
    await page.waitForFunction(() => typeof window.runEngine === 'function');
    const reply = (await page.evaluate(
      (req) => window.runEngine!(req),
      { url: '/models/e2e.gguf', prompt: PROMPT, nTokens: N_TOKENS, numerics: 'ggml' as const, kernels: c.kernels },
    )) as WorkerReply;
    if (reply.type === 'error') throw new Error(`${reply.name}: ${reply.message}`);
    expect(reply.adapter).toContain('swiftshader');
    expect(reply.kernels).toBe(c.kernels === 'hardware' ? 'hardware' : 'software');
    console.log(`e2e engine ${c.arch} ${c.kernels}:`, JSON.stringify({ kernels: reply.kernels, subgroups: reply.subgroups, decodeTokS: reply.decodeTokS }));

    const ref = await ReferenceModel.load(bytesSource(bytes), { numerics: 'ggml', nCtx: 64 });
    const [logits] = ref.forward(PROMPT);
    let diff = 0;
    for (let i = 0; i < logits.length; i++) diff = Math.max(diff, Math.abs(reply.logits[i] - logits[i]));
    expect(diff).toBeLessThan(1e-3); // as src/engine/engine.test.ts: f32 summation order only
    expect(reply.ids).toEqual(greedy(ref, PROMPT, N_TOKENS));
    expect(errors).toEqual([]);
  });
}
