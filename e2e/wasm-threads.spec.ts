// The WASM CPU backend's threads in Chromium (no usable WebGPU, as in wasm-backend.spec.ts): the
// dev server sends COOP/COEP (vite.config.ts), so the page is cross-origin isolated and the
// backend runs its matrix products on one thread per core (cpu-mt.wasm, a pool of workers on a
// shared heap) for a model that reads at least 4 MB of weights per token (a factory MoE, 6.2 MB,
// loaded with the demo's ?model=); the default model (1.6 MB per token) runs on one thread there,
// as measured faster (THREADS_MIN_BYTES_PER_TOKEN). The same page served without those headers
// runs the MoE on one thread. The built site (vite build: the production bundles of the worker
// and the pool) on a static server that sends COOP/COEP runs threads too; an isolated page whose
// CSP allows no blob: workers (the pool's) loads on one thread. All generate the CPU reference's
// greedy text (computed here in Node on the same file).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { build } from 'vite';
import config from '../playwright.config.ts';
import { ISOLATION_HEADERS } from '../vite.config.ts';
import { GGMLType } from '../src/gguf/types.ts';
import { makeModel } from '../tools/factory/make-model.ts';
import { defaultModelBytes, E2EReference } from './reference.ts';
import { serveBytes } from './serve-bytes.ts';
import { startStaticServer } from './static-server.ts';
import { fetchRetry } from './route-fetch.ts';

const PROMPT = 'Once upon a time';
const N = 32;
/** qwen3moe 384 wide, 4 layers, Q8_0: 18 MB, 6.2 MB read per token (src/wasm-backend/threads.test.ts). */
const MOE = makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 1, hp: { nEmbd: 384, nHead: 6, nHeadKv: 3, headDim: 64, nFf: 384, nFfExp: 384, nLayer: 4 } });
const MOE_PAGE = '/?model=/e2e-models/threads-moe.gguf';
const want: Record<'tiny' | 'moe', { ids: number[]; text: string }> = { tiny: { ids: [], text: '' }, moe: { ids: [], text: '' } };
test.beforeAll(async () => {
  for (const [k, bytes] of [['tiny', defaultModelBytes()], ['moe', MOE]] as const) {
    const ref = await E2EReference.load(bytes);
    const ids = ref.greedy(PROMPT, N);
    want[k] = { ids, text: ref.decode(ids) };
    ref.dispose();
  }
});
const args = (config.use?.launchOptions?.args ?? []).filter((a) => !/webgpu/i.test(a));
test.use({ launchOptions: { ...config.use?.launchOptions, args } });

/** Loads the demo on the WASM backend (the MoE served at /e2e-models/), generates greedily; what
 *  the page says and got. */
async function run(page: Page, url = MOE_PAGE) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await serveBytes(page, (u) => u.pathname === '/e2e-models/threads-moe.gguf', () => MOE);
  await page.goto(url);
  await page.waitForFunction(() => window.webmoe?.state === 'ready', null, { timeout: 60_000 });
  await expect(page.locator('#error')).toBeHidden();
  if (!(await page.locator('details').evaluate((d) => (d as HTMLDetailsElement).open))) await page.click('summary');
  await page.fill('#temperature', '0');
  await page.fill('#repeat-penalty', '1');
  await page.fill('#max-tokens', String(N));
  await page.fill('#prompt', PROMPT);
  await page.click('#generate');
  await page.waitForFunction(() => window.webmoe.generations > 0, null, { timeout: 60_000 });
  const got = (await page.evaluate(() => window.webmoe.last))!;
  return {
    isolated: await page.evaluate(() => crossOriginIsolated),
    cores: await page.evaluate(() => navigator.hardwareConcurrency),
    model: await page.evaluate(() => window.webmoe.model),
    info: await page.locator('#model-info').textContent(),
    output: await page.locator('#output').textContent(),
    got, errors,
  };
}

test('cross-origin isolated (the dev server\'s COOP/COEP), the default model: one thread (1.6 MB per token), the reference\'s text', async ({ page }) => {
  const r = await run(page, '/');
  expect(r.isolated).toBe(true);
  expect(r.model?.backend).toBe('wasm');
  expect(r.model?.threads).toBe(1);
  expect(r.info).toContain('WASM CPU backend (1 thread)');
  expect(r.got.ids).toEqual(want.tiny.ids);
  expect(r.output).toBe(want.tiny.text);
  expect(r.errors).toEqual([]);
});

test('cross-origin isolated, a MoE reading 6.2 MB per token: threads, the reference\'s text', async ({ page }) => {
  const r = await run(page);
  expect(r.isolated).toBe(true);
  expect(r.model?.backend).toBe('wasm');
  const threads = Math.min(8, r.cores);
  expect(threads).toBeGreaterThan(1); // this machine has 2 cores
  expect(r.model?.threads).toBe(threads);
  expect(r.info).toContain(`WASM CPU backend (${threads} threads)`);
  expect(r.got.ids).toEqual(want.moe.ids);
  expect(r.output).toBe(want.moe.text);
  expect(r.errors).toEqual([]);
  console.log('e2e wasm threads (isolated):', JSON.stringify({ threads, prefillTokS: Math.round(r.got.prefillTokS), decodeTokS: Math.round(r.got.decodeTokS ?? 0) }));
});

test('without COOP/COEP: one thread, the same text', async ({ page }) => {
  // every response of the page's origin without the isolation headers
  await page.context().route('**/*', async (route) => {
    const res = await fetchRetry(route);
    const headers = { ...res.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response: res, headers });
  });
  const r = await run(page);
  expect(r.isolated).toBe(false);
  expect(r.model?.backend).toBe('wasm');
  expect(r.model?.threads).toBe(1);
  expect(r.info).toContain('WASM CPU backend (1 thread)');
  expect(r.got.ids).toEqual(want.moe.ids);
  expect(r.output).toBe(want.moe.text);
  expect(r.errors).toEqual([]);
  console.log('e2e wasm threads (not isolated):', JSON.stringify({ threads: 1, prefillTokS: Math.round(r.got.prefillTokS), decodeTokS: Math.round(r.got.decodeTokS ?? 0) }));
});

test('the built site on a static server that sends COOP/COEP: threads, the reference\'s text', async ({ page }) => {
  test.setTimeout(180_000);
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tmp = mkdtempSync(join(tmpdir(), 'webmoe-threads-site-'));
  const server = await startStaticServer(tmp);
  try {
    await build({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn', build: { outDir: tmp, emptyOutDir: true } });
    server.headers.push({ match: /./, headers: ISOLATION_HEADERS });
    writeFileSync(join(tmp, 'threads-moe.gguf'), MOE);
    const r = await run(page, `${server.origin}/?model=/threads-moe.gguf`);
    expect(r.isolated).toBe(true);
    expect(r.model?.backend).toBe('wasm');
    expect(r.model?.threads).toBe(Math.min(8, r.cores));
    expect(r.got.ids).toEqual(want.moe.ids);
    expect(r.errors).toEqual([]);
    expect(server.log.some((l) => l.path.endsWith('.wasm') && /cpu-mt/.test(l.path))).toBe(true);
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
});

test('isolated, but a CSP that allows no blob: workers: the load goes on with one thread', async ({ page }) => {
  await page.context().route('**/*', async (route) => {
    const res = await fetchRetry(route);
    await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': "worker-src 'self'" } });
  });
  const r = await run(page);
  expect(r.isolated).toBe(true);
  expect(r.model?.backend).toBe('wasm');
  expect(r.model?.threads).toBe(1);
  expect(r.got.ids).toEqual(want.moe.ids);
  expect(r.errors).toEqual([]);
});
