// The WASM CPU backend's threads in Chromium (no usable WebGPU, as in wasm-backend.spec.ts): the
// dev server sends COOP/COEP (vite.config.ts), so the page is cross-origin isolated and the
// backend runs its matrix products on one thread per core (cpu-mt.wasm, a pool of workers on a
// shared heap); the same page served without those headers runs on one thread. The built site
// (vite build: the production bundles of the worker and the pool) on a static server that sends
// COOP/COEP runs threads too; an isolated page whose CSP allows no blob: workers (the pool's) loads
// on one thread. All generate the CPU reference's greedy text (computed here in Node on the same
// file).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { build } from 'vite';
import config from '../playwright.config.ts';
import { ISOLATION_HEADERS } from '../vite.config.ts';
import { E2EReference } from './reference.ts';
import { startStaticServer } from './static-server.ts';

const PROMPT = 'Once upon a time';
const N = 32;
let want: number[];
let text: string;
test.beforeAll(async () => {
  const ref = await E2EReference.load();
  want = ref.greedy(PROMPT, N);
  text = ref.decode(want);
  ref.dispose();
});
const args = (config.use?.launchOptions?.args ?? []).filter((a) => !/webgpu/i.test(a));
test.use({ launchOptions: { ...config.use?.launchOptions, args } });

/** Loads the demo on the WASM backend, generates greedily; what the page says and got. */
async function run(page: Page, url = '/') {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.webmoe?.state === 'ready', null, { timeout: 60_000 });
  await expect(page.locator('#error')).toBeHidden();
  if (!(await page.locator('details').evaluate((d) => (d as HTMLDetailsElement).open))) await page.click('summary');
  await page.fill('#temperature', '0');
  await page.fill('#repeat-penalty', '1');
  await page.fill('#max-tokens', String(N));
  await page.fill('#prompt', PROMPT);
  await page.click('#generate');
  await page.waitForFunction(() => window.webmoe.generations > 0, null, { timeout: 30_000 });
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

test('cross-origin isolated (the dev server\'s COOP/COEP): threads, the reference\'s text', async ({ page }) => {
  const r = await run(page);
  expect(r.isolated).toBe(true);
  expect(r.model?.backend).toBe('wasm');
  const threads = Math.min(8, r.cores);
  expect(threads).toBeGreaterThan(1); // this machine has 2 cores
  expect(r.model?.threads).toBe(threads);
  expect(r.info).toContain(`WASM CPU backend (${threads} threads)`);
  expect(r.got.ids).toEqual(want);
  expect(r.output).toBe(text);
  expect(r.errors).toEqual([]);
  console.log('e2e wasm threads (isolated):', JSON.stringify({ threads, prefillTokS: Math.round(r.got.prefillTokS), decodeTokS: Math.round(r.got.decodeTokS ?? 0) }));
});

test('without COOP/COEP: one thread, the same text', async ({ page }) => {
  // every response of the page's origin without the isolation headers
  await page.context().route('**/*', async (route) => {
    const res = await route.fetch();
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
  expect(r.got.ids).toEqual(want);
  expect(r.output).toBe(text);
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
    const r = await run(page, `${server.origin}/`);
    expect(r.isolated).toBe(true);
    expect(r.model?.backend).toBe('wasm');
    expect(r.model?.threads).toBe(Math.min(8, r.cores));
    expect(r.got.ids).toEqual(want);
    expect(r.errors).toEqual([]);
    expect(server.log.some((l) => l.path.endsWith('.wasm') && /cpu-mt/.test(l.path))).toBe(true);
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
});

test('isolated, but a CSP that allows no blob: workers: the load goes on with one thread', async ({ page }) => {
  await page.context().route('**/*', async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': "worker-src 'self'" } });
  });
  const r = await run(page);
  expect(r.isolated).toBe(true);
  expect(r.model?.backend).toBe('wasm');
  expect(r.model?.threads).toBe(1);
  expect(r.got.ids).toEqual(want);
  expect(r.errors).toEqual([]);
});
