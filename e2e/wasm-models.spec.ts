// The WASM CPU backend in Chromium on factory models of every architecture (gpt-oss with MXFP4
// experts last), together covering every weight type it runs (WASM_TYPES: types join this list as
// the backend gains them), through the
// library API (WebMoE.load with backend 'wasm', greedy generation from token ids, end of text
// ignored), in one page: its greedy ids equal llama.cpp's (node-llama-cpp, CPU).
//
// The chain of evidence: the browser runs the same cpu.wasm as Node, so its ids must equal those
// of WasmModel in Node on the same file, exactly; and Node's run (with its logits) must equal
// llama.cpp's or differ only where the CPU reference shows an ambiguous rounding (the rule of
// src/wasm-backend/wasm-backend.test.ts, tools/oracle/llamacpp-agreement.ts). The page is served
// without COOP/COEP (one thread); then one MoE model runs on the dev server's cross-origin isolated
// page on 2 threads, which must give the same ids (threads split rows, never sums).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import config from '../playwright.config.ts';
import { bytesSource } from '../src/gguf/source.ts';
import { GGMLType, typeName } from '../src/gguf/types.ts';
import type { HParams } from '../src/model/hparams.ts';
import { ReferenceModel } from '../src/reference/model.ts';
import { WASM_TYPES } from '../src/wasm-backend/kernels.ts';
import { WasmModel } from '../src/wasm-backend/model.ts';
import { makeModel } from '../tools/factory/make-model.ts';
import { agreement, explainStep, FlipProbe, LOGIT_TOL } from '../tools/oracle/llamacpp-agreement.ts';
import { greedyResult, runJobs, type GreedyOutput } from '../tools/oracle/llamacpp.ts';
import type { WasmRun } from './pages/wasm-models.ts';
import { serveBytes } from './serve-bytes.ts';
import { fetchRetry } from './route-fetch.ts';

const PROMPT = [11, 250, 3, 97, 1000, 42];
const N_TOKENS = 16;

interface Case { arch: string; type: GGMLType; name: string; hp?: Partial<HParams>; typeOverrides?: { match: RegExp; type: GGMLType }[] }

/** Every architecture once (the Mixtral layout is llama with experts). */
const ARCHS: { arch: string; label?: string; hp?: Partial<HParams> }[] = [
  { arch: 'llama' },
  { arch: 'qwen2' }, // q/k/v biases
  { arch: 'qwen3' }, // per-head q/k norm
  { arch: 'llama', label: 'mixtral', hp: { nExpert: 4, nExpertUsed: 2, nFf: 256 } },
  { arch: 'qwen2moe' }, // sigmoid-gated shared expert
  { arch: 'qwen3moe' },
  { arch: 'olmoe' }, // full-width q/k norm
  { arch: 'ernie4_5-moe', hp: { nFfShexp: 256 } }, // leading dense layer, selection bias
  { arch: 'granitemoe' }, // embedding, residual, attention and logit scales
  { arch: 'grok' }, // GELU, soft caps, post norms
];
/** Architectures and types paired in turn until each has run at least once. */
const CASES: Case[] = Array.from({ length: Math.max(ARCHS.length, WASM_TYPES.length) }, (_, i) => {
  const a = ARCHS[i % ARCHS.length], type = WASM_TYPES[i % WASM_TYPES.length];
  return { ...a, type, name: `${a.label ?? a.arch}-${typeName(type)}` };
});
// gpt-oss laid out as the real files are (as src/wasm-backend/gpt-oss.test.ts): routed experts
// MXFP4, the rest Q8_0; sinks, a sliding window of 16 on even layers with its own RoPE base, YaRN,
// biases, softmax over the top-4 router logits, the clamped SwiGLU.
CASES.push({
  arch: 'gpt-oss', type: GGMLType.Q8_0, name: 'gpt-oss-Q8_0-MXFP4', typeOverrides: [{ match: /_exps\.weight$/, type: GGMLType.MXFP4 }],
  hp: {
    nLayer: 4, nEmbd: 128, nHead: 4, nHeadKv: 2, headDim: 64, ropeDim: 64, nExpert: 8, nExpertUsed: 4, nFfExp: 128, nFf: 128,
    nSwa: 16, ropeBase: 150000, ropeBaseSwa: 10000, nCtxTrain: 131072, ropeScaling: 'yarn', ropeScaleFactor: 32, nCtxOrigYarn: 4096,
  },
});
/** The threaded case: a MoE past the size below which the browser runs one thread
 *  (THREADS_MIN_BYTES_PER_TOKEN): qwen3moe 384 wide, 4 layers, Q8_0, 6.2 MB read per token. */
const THREADED: Case = {
  arch: 'qwen3moe', type: GGMLType.Q8_0, name: 'threads-qwen3moe-384-Q8_0',
  hp: { nEmbd: 384, nHead: 6, nHeadKv: 3, headDim: 64, nFf: 384, nFfExp: 384, nLayer: 4 },
};

interface Prepared { bytes: Uint8Array; node: GreedyOutput; llama: GreedyOutput | Error }
const prepared = new Map<string, Prepared>();

/** WasmModel in Node: greedy ids with the logits of every step, in the oracle's format. */
async function nodeGreedy(bytes: Uint8Array): Promise<GreedyOutput> {
  const m = await WasmModel.load(bytesSource(bytes), { nCtx: 64 });
  const out: GreedyOutput = { type: 'greedy', ids: [], steps: [] };
  try {
    let r = m.forward(PROMPT, { logits: 'last' });
    for (let s = 0; s < N_TOKENS; s++) {
      out.ids.push(r.next);
      out.steps.push({ token: r.next, top: [], logits: Array.from(r.logits![0]) });
      if (s + 1 < N_TOKENS) r = m.forward([r.next], { logits: 'last' });
    }
  } finally {
    m.close();
  }
  return out;
}

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'webmoe-wasm-models-'));
  try {
    const all = [...CASES, THREADED];
    const files = all.map((c) => {
      const bytes = makeModel({ arch: c.arch, type: c.type, seed: 7, hp: c.hp, typeOverrides: c.typeOverrides });
      const path = join(dir, `${c.name}.gguf`);
      writeFileSync(path, bytes);
      return { c, bytes, path };
    });
    const t0 = Date.now();
    const llama = await runJobs(files.map(({ path }) => ({ type: 'greedy', model: path, prompt: PROMPT, nTokens: N_TOKENS, logits: true, threads: 1 })));
    for (const [i, { c, bytes }] of files.entries()) {
      let l: GreedyOutput | Error;
      try { l = greedyResult(llama[i]); } catch (e) { l = e as Error; }
      prepared.set(c.name, { bytes, node: await nodeGreedy(bytes), llama: l });
    }
    console.log('e2e wasm models, llama.cpp and Node:', JSON.stringify({ ms: Date.now() - t0 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Node's WASM run is llama.cpp's, or both are the CPU reference's up to explained roundings. */
async function expectLlamaCpp(name: string): Promise<boolean> {
  const { bytes, node, llama } = prepared.get(name)!;
  if (llama instanceof Error) throw llama;
  if (JSON.stringify(node.ids) === JSON.stringify(llama.ids)) return true;
  const probe = new FlipProbe();
  const ref = await ReferenceModel.load(bytesSource(bytes), { numerics: 'ggml', nCtx: 64, probe });
  expect(explainStep(ref, probe, PROMPT, node, 0).diff, `${name}: prompt logits`).toBeLessThan(LOGIT_TOL);
  expect(agreement(ref, probe, PROMPT, node).mismatch, `${name}: WASM vs reference`).toBeUndefined();
  expect(agreement(ref, probe, PROMPT, llama).mismatch, `${name}: llama.cpp vs reference`).toBeUndefined();
  return false;
}

async function open(page: Page): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // every case's file under /e2e-models/
  await serveBytes(page, '**/e2e-models/*.gguf', (url) => prepared.get(decodeURIComponent(url.pathname.split('/').pop()!.replace(/\.gguf$/, '')))?.bytes);
  await page.goto('/e2e/pages/wasm-models.html');
  await expect(page.locator('#out')).toHaveText('ready');
  return errors;
}

const greedyIn = (page: Page, name: string): Promise<WasmRun> =>
  page.evaluate(([url, prompt, n]) => window.greedyWasm(url, prompt, n), [`/e2e-models/${name}.gguf`, PROMPT, N_TOKENS] as const);

// No WebGPU flags: the WASM backend is what runs here anyway, and Chromium starts faster.
const args = (config.use?.launchOptions?.args ?? []).filter((a) => !/webgpu/i.test(a));
test.use({ launchOptions: { ...config.use?.launchOptions, args } });

test(`every architecture and weight type (${CASES.length} models), one thread: llama.cpp's greedy ids`, async ({ page }) => {
  test.setTimeout(120_000);
  // the page without the isolation headers: not cross-origin isolated, no SharedArrayBuffer, one thread
  await page.route('**/e2e/pages/wasm-models.html', async (route) => {
    const res = await fetchRetry(route);
    const headers = { ...res.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response: res, headers });
  });
  const errors = await open(page);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
  const exact: string[] = [];
  const t0 = Date.now();
  const ms: number[] = [];
  for (const c of CASES) {
    const t = Date.now();
    const r = await greedyIn(page, c.name);
    ms.push(Date.now() - t);
    expect(r.backend).toBe('wasm');
    expect(r.threads).toBe(1);
    expect(r.promptIds).toEqual(PROMPT);
    expect(r.ids, `${c.name}: the browser's ids are Node's`).toEqual(prepared.get(c.name)!.node.ids);
    if (await expectLlamaCpp(c.name)) exact.push(c.name);
  }
  console.log('e2e wasm models:', JSON.stringify({ cases: CASES.map((c) => c.name), exactLlamaCpp: exact.length, browserMs: Date.now() - t0, ms }));
  // as in Node: most cases equal llama.cpp outright, the rest only by explained roundings
  expect(exact.length, `exact: ${exact.join(', ')}`).toBeGreaterThanOrEqual(Math.ceil(0.75 * CASES.length));
  expect(errors).toEqual([]);
});

test('a MoE model on 2 threads (cross-origin isolated page): the same ids', async ({ page }) => {
  const errors = await open(page);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  expect(await page.evaluate(() => navigator.hardwareConcurrency)).toBeGreaterThan(1); // 2 cores here
  const r = await greedyIn(page, THREADED.name);
  expect(r.backend).toBe('wasm');
  expect(r.threads).toBeGreaterThan(1);
  expect(r.ids).toEqual(prepared.get(THREADED.name)!.node.ids);
  await expectLlamaCpp(THREADED.name);
  expect(errors).toEqual([]);
});
