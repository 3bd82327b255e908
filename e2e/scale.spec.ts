// MoE paging at scale in Chromium: the ~300 MB sibling of Qwen3-30B-A3B (same widths: n_embd
// 2048, 32/4 heads of 128, 768-wide experts, top-8; tools/factory/scale-model.ts) served by range
// from disk, loaded by the demo into IndexedDB with a GPU budget of 10% of its experts and a small
// RAM tier, generates the CPU reference's greedy tokens; a reload generates them again from
// IndexedDB with 0 bytes downloaded.
import { existsSync, mkdirSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { writeScaleModel } from '../tools/factory/scale-model.ts';
import { fileSource } from '../src/gguf/source-node.ts';
import { readGGUF } from '../src/gguf/reader.ts';
import { expertProvider } from '../src/model/experts.ts';
import { planModel } from '../src/model/plan.ts';
import { ExpertPool } from '../src/engine/expert-pool.ts';
import { greedyAsync } from '../src/reference/generate.ts';
import { ReferenceModel } from '../src/reference/model.ts';
import { Tokenizer } from '../src/tokenizer/tokenizer.ts';

const DIR = '.cache/e2e';
const FILE = `${DIR}/qwen3-30b-a3b-mini.gguf`;
const URL_PATH = '/e2e-models/qwen3-30b-a3b-mini.gguf';
const PROMPT = 'The old house at the end of the road';
const N = 12;

let size = 0;
let expected: number[] = [];
let gpuMB = 0;

test.beforeAll(async () => {
  test.setTimeout(300_000);
  mkdirSync(DIR, { recursive: true });
  if (!existsSync(FILE)) await writeScaleModel(FILE, { preset: 'qwen3-30b-a3b-mini', seed: 1 });
  size = statSync(FILE).size;
  const source = fileSource(FILE);
  const file = await readGGUF(source);
  const plan = planModel(file);
  // 10% of the experts' GPU bytes, in MB (the demo's field unit)
  gpuMB = (0.1 * plan.hp.nLayer * plan.hp.nExpert * ExpertPool.bytesPerExpert(plan)) / 1e6;
  const tok = await Tokenizer.fromGGUF(file);
  const prompt = [...tok.encode(PROMPT, { addSpecial: true, parseSpecial: true })];
  // the reference reads experts on demand: only the ones the router picks are dequantized
  const ref = await ReferenceModel.load(source, { numerics: 'ggml', nCtx: 64, experts: expertProvider(plan, (o, n) => source.read(o, n)) });
  expected = await greedyAsync(ref, prompt, N);
  const eog = expected.findIndex((id) => tok.isEog(id));
  if (eog >= 0) expected = expected.slice(0, eog);
  tok.dispose();
  await source.close?.();
});

/** Serves the model by range from disk at URL_PATH; counts body bytes. */
async function serveModel(page: Page): Promise<{ served: number }> {
  const counter = { served: 0 };
  await page.route(`**${URL_PATH}`, async (route) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(route.request().headers().range ?? '');
    if (!m) return route.fulfill({ status: 416, headers: { 'Content-Range': `bytes */${size}` } });
    const start = Number(m[1]);
    const end = Math.min(size - 1, m[2] ? Number(m[2]) : size - 1);
    const body = Buffer.alloc(end - start + 1);
    const fd = openSync(FILE, 'r');
    try { readSync(fd, body, 0, body.length, start); } finally { closeSync(fd); }
    counter.served += body.length;
    await route.fulfill({
      status: 206, body,
      headers: { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Accept-Ranges': 'bytes', ETag: '"mini-1"', 'Content-Type': 'application/octet-stream' },
    });
  });
  return counter;
}

async function generate(page: Page, prompt: string): Promise<number[]> {
  const before = await page.evaluate(() => window.webmoe.generations);
  await page.fill('#prompt', prompt);
  await page.click('#generate');
  await page.waitForFunction((n) => window.webmoe.generations > n, before, { timeout: 240_000 });
  const last = await page.evaluate(() => window.webmoe.last);
  if (!last) throw new Error(`no result; the page says: ${await page.locator('#error').textContent()}`);
  return last.ids;
}

async function greedySettings(page: Page): Promise<void> {
  if (!(await page.locator('details').evaluate((d) => (d as HTMLDetailsElement).open))) await page.click('summary');
  await page.fill('#temperature', '0');
  await page.fill('#repeat-penalty', '1');
  await page.fill('#max-tokens', String(N));
}

test('the ~300 MB Qwen3-30B-A3B sibling with 10% of its experts on the GPU: the reference\'s tokens, then again from IndexedDB', async ({ page }) => {
  test.setTimeout(600_000);
  const counter = await serveModel(page);
  const ready = () => page.waitForFunction(() => window.webmoe?.state === 'ready', null, { timeout: 300_000 });
  // backend=webgpu: auto on SwiftShader takes the WASM backend, which pages too (its heap paging: demo.spec.ts)
  await page.goto(`/?model=${encodeURIComponent(URL_PATH)}&experts=${gpuMB.toFixed(2)}&ram=20&backend=webgpu`);
  await ready();
  await expect(page.locator('#error')).toBeHidden();
  await greedySettings(page);
  expect(await generate(page, PROMPT)).toEqual(expected);
  const st = await page.evaluate(() => window.webmoe.stats());
  const x = st!.engine.experts!;
  expect(x.gpuBytes).toBeLessThanOrEqual(gpuMB * 1e6);
  expect(x.ramPeakBytes).toBeLessThanOrEqual(20e6);
  expect(x.misses).toBeGreaterThan(0);
  // the rest of the file goes on downloading; once stored, a reload downloads nothing
  await page.waitForFunction(async () => (await window.webmoe.stats())?.download.complete === true, null, { timeout: 300_000, polling: 1000 });
  expect(counter.served).toBeGreaterThanOrEqual(size);
  const first = counter.served;
  await page.reload();
  await ready();
  await greedySettings(page);
  expect(await generate(page, PROMPT)).toEqual(expected);
  expect(counter.served - first).toBe(0);
});
