// The demo site (index.html + src/demo) in headless Chromium on SwiftShader, as a user runs it: it
// loads the catalog's default model through the library API and the engine worker, and greedy
// generations must equal the CPU reference's, computed here in Node on the same file and prompt.
// Also: generated text is rendered as text nodes only; Stop aborts mid-generation and the next
// generation is still right; a reload loads the model from IndexedDB without downloading it again;
// with ?experts=MB the routed experts are paged and the text is the same.
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import type { GenerationResult } from '../src/client/protocol.ts';
import { E2EReference } from './reference.ts';
import { fetchRetry } from './route-fetch.ts';

const FILE = 'public/models/webmoe-tiny-moe.q8_0.gguf';
const ROUTE = '**/models/webmoe-tiny-moe.q8_0.gguf';
const bytes = new Uint8Array(readFileSync(FILE));

let ref: E2EReference;
test.beforeAll(async () => { ref = await E2EReference.load(bytes); });
test.afterAll(() => ref.dispose());

/** The reference's greedy ids for a text prompt (where the demo stops), and their text. */
function expected(prompt: string, n: number): { ids: number[]; text: string } {
  const ids = ref.greedy(prompt, n);
  return { ids, text: ref.decode(ids) };
}

/** Counts the model's body bytes the server sends (the worker's range requests included). */
async function countModelBytes(page: Page): Promise<{ served: number }> {
  const counter = { served: 0 };
  await page.route(ROUTE, async (route) => {
    const res = await fetchRetry(route);
    const body = await res.body();
    counter.served += body.length;
    await route.fulfill({ response: res, body });
  });
  return counter;
}

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => window.webmoe?.state === 'ready', null, { timeout: 90_000 });
}

async function settings(page: Page, s: { maxTokens: number }): Promise<void> {
  if (!(await page.locator('details').evaluate((d) => (d as HTMLDetailsElement).open))) await page.click('summary');
  await page.fill('#temperature', '0'); // greedy
  await page.fill('#repeat-penalty', '1'); // off: plain argmax, as the reference
  await page.fill('#max-tokens', String(s.maxTokens));
}

/** Types the prompt, clicks Generate, waits for the end; returns the result the page got. */
async function generate(page: Page, prompt: string): Promise<GenerationResult> {
  const before = await page.evaluate(() => window.webmoe.generations);
  await page.fill('#prompt', prompt);
  await page.click('#generate');
  await page.waitForFunction((n) => window.webmoe.generations > n, before, { timeout: 60_000 });
  const last = await page.evaluate(() => window.webmoe.last);
  if (!last) throw new Error(`no result; the page says: ${await page.locator('#error').textContent()}`);
  return last;
}

/** Whether every child of #output is a text node (no element was made from generated text). */
const outputIsTextOnly = (page: Page) => page.locator('#output').evaluate((el) =>
  [...el.childNodes].every((n) => n.nodeType === Node.TEXT_NODE) && el.querySelector('*') === null);

test('the demo loads the default model and its greedy text equals the CPU reference', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const t0 = Date.now();
  await page.goto('/');
  await ready(page);
  const loadMs = Date.now() - t0;
  await expect(page.locator('#model-url')).toHaveValue(/\/models\/webmoe-tiny-moe\.q8_0\.gguf$/);
  await expect(page.locator('#progress-text')).toHaveText(/^Downloaded 4\.\d+ MB and loaded in/);
  await expect(page.locator('#model-info')).toContainText('8 experts (2 per token)');
  await expect(page.locator('#model-info')).toContainText('swiftshader');
  await expect(page.locator('#error')).toBeHidden();

  await settings(page, { maxTokens: 32 });
  const speeds: Record<string, unknown>[] = [];
  for (const prompt of ['The', 'Once upon a time', 'In the morning the']) {
    const want = expected(prompt, 32);
    const got = await generate(page, prompt);
    expect(got.ids, `ids after ${JSON.stringify(prompt)}`).toEqual(want.ids);
    await expect(page.locator('#output')).toHaveText(want.text, { useInnerText: false });
    expect(await page.locator('#output').textContent()).toBe(want.text);
    expect(await outputIsTextOnly(page)).toBe(true);
    speeds.push({ prompt, tokens: got.ids.length, prefillTokS: got.prefillTokS, decodeTokS: got.decodeTokS });
  }
  const figures = { loadMs, speeds };
  console.log('e2e demo:', JSON.stringify(figures));
  test.info().annotations.push({ type: 'demo speed', description: JSON.stringify(figures) });

  // The renderer the output goes through, fed markup: it stays text.
  const html = '<b>bold</b> <img src=x onerror="window.__pwned = 1"> &amp; <script>window.__pwned = 2</script>';
  await page.evaluate(async (s) => {
    const path = '/src/demo/render.ts'; // served by Vite, as the page imports it
    const { textStream }: typeof import('../src/demo/render.ts') = await import(/* @vite-ignore */ path);
    const write = textStream(document.getElementById('output')!);
    for (const piece of s.match(/.{1,7}/gs)!) write(piece); // in pieces, as tokens arrive
  }, html);
  expect(await page.locator('#output').textContent()).toBe(html);
  expect(await outputIsTextOnly(page)).toBe(true);
  await page.waitForTimeout(200); // an <img> would have fired onerror by now
  expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(errors).toEqual([]);
});

test('Stop aborts mid-generation, and the next generation is right', async ({ page }) => {
  test.setTimeout(180_000);
  // WebGPU: the bound on tokens in flight below is set for its speed (auto takes the WASM
  // backend on SwiftShader, ~20x faster: its Stop is checked in e2e/wasm-backend.spec.ts)
  await page.goto('/?backend=webgpu');
  await ready(page);
  await settings(page, { maxTokens: 200 });
  await page.fill('#prompt', 'The');
  await page.click('#generate');
  await page.waitForFunction(() => window.webmoe.tokens >= 8, null, { timeout: 60_000 });
  await page.click('#stop');
  await page.waitForFunction(() => window.webmoe.generations === 1, null, { timeout: 30_000 });
  const stopped = (await page.evaluate(() => window.webmoe.last))!;
  const atStop = (await page.evaluate(() => window.webmoe.tokensAtStop))!;
  console.log('e2e stop:', JSON.stringify({ tokensAtStop: atStop, tokensGenerated: stopped.ids.length }));
  expect(stopped.stop).toBe('aborted');
  // Tokens after the click: those already on their way to the page, plus at most one forward pass
  // in the worker once the cancel arrives (exactly checked in workers/engine-host.test.ts).
  expect(atStop).toBeGreaterThanOrEqual(8);
  expect(stopped.ids.length - atStop).toBeGreaterThanOrEqual(0);
  expect(stopped.ids.length - atStop).toBeLessThanOrEqual(3);
  expect(stopped.ids.length).toBeLessThan(200);
  expect(stopped.ids).toEqual(expected('The', stopped.ids.length).ids);
  await expect(page.locator('#gen-status')).toContainText('stopped');
  const text = await page.locator('#output').textContent();
  await page.waitForTimeout(500);
  expect(await page.locator('#output').textContent()).toBe(text); // nothing more arrives
  await expect(page.locator('#generate')).toBeEnabled();
  await expect(page.locator('#stop')).toBeDisabled();

  await settings(page, { maxTokens: 24 });
  const again = await generate(page, 'He said that');
  expect(again.ids).toEqual(expected('He said that', 24).ids);
  expect(again.stop).not.toBe('aborted');
});

test('a reload loads the model from IndexedDB without downloading it again; delete removes it', async ({ page }) => {
  test.setTimeout(180_000);
  const counter = await countModelBytes(page);
  const t0 = Date.now();
  await page.goto('/');
  await ready(page);
  const firstLoadMs = Date.now() - t0;
  const first = counter.served;
  expect(first).toBeGreaterThanOrEqual(bytes.length);
  await expect(page.locator('#stored li')).toHaveCount(1);
  await expect(page.locator('#stored li')).toContainText('complete');

  const t1 = Date.now();
  await page.reload();
  await ready(page);
  const figures = { bytesServedFirstLoad: first, bytesServedOnReload: counter.served - first, firstLoadMs, reloadMs: Date.now() - t1 };
  console.log('e2e reload:', JSON.stringify(figures));
  test.info().annotations.push({ type: 'reload', description: JSON.stringify(figures) });
  expect(counter.served - first).toBe(0); // not one byte of the model fetched again
  await expect(page.locator('#progress-text')).toHaveText(/^Loaded from this browser's storage/);
  await expect(page.locator('#stats')).toContainText(/Downloaded \(this load\)\s*0 B/);
  await settings(page, { maxTokens: 12 });
  expect((await generate(page, 'The')).ids).toEqual(expected('The', 12).ids);

  await page.locator('#stored li button', { hasText: 'Delete' }).click();
  await expect(page.locator('#stored li')).toHaveText('None yet.');
  await page.waitForFunction(() => window.webmoe.state === 'idle');
  expect(counter.served - first).toBe(0);
});

test('?experts=1&backend=webgpu pages the routed experts through 1 MB of GPU memory; the text is the same', async ({ page }) => {
  await page.goto('/?experts=1&backend=webgpu'); // 9 slots of the 32 experts (104 kB each)
  await ready(page);
  await expect(page.locator('#error')).toBeHidden();
  await settings(page, { maxTokens: 24 });
  await expect(page.locator('#expert-budget')).toHaveValue('1');
  const got = await generate(page, 'Once upon a time');
  expect(got.ids).toEqual(expected('Once upon a time', 24).ids);
  await expect(page.locator('#stats')).toContainText(/Experts \(paged\)9 GPU slots, [\d.]+ [kMG]?B RAM; of \d+ lookups \d+ found on the GPU/);
  // the residency picture: every expert counted once, at most 9 on the GPU, the last picks shown
  await expect(page.locator('#experts-box')).toBeVisible();
  const summary = await page.locator('#experts-text').textContent();
  const m = /^4 layers × 8 experts: (\d+) on the GPU, (\d+) in RAM, (\d+) stored, (\d+) not downloaded; the last token's (\d+) picks outlined$/.exec(summary ?? '');
  expect(m, summary ?? '').not.toBeNull();
  const [gpu, ram, stored, missing] = m!.slice(1, 5).map(Number);
  expect(gpu + ram + stored + missing).toBe(32);
  expect(gpu).toBeGreaterThan(0);
  expect(gpu).toBeLessThanOrEqual(9);
  expect(Number(m![5])).toBeGreaterThan(0);
  expect(await page.locator('#experts').evaluate((c) => (c as HTMLCanvasElement).width)).toBeGreaterThan(0);
});

test('?experts=1 under auto on SwiftShader: the WASM backend pages the experts into 1 MB of heap slots; the text is the same', async ({ page }) => {
  await page.goto('/?experts=1');
  await ready(page);
  await expect(page.locator('#error')).toBeHidden();
  expect(await page.evaluate(() => window.webmoe.model?.backend)).toBe('wasm');
  await settings(page, { maxTokens: 24 });
  const got = await generate(page, 'Once upon a time');
  expect(got.ids).toEqual(expected('Once upon a time', 24).ids);
  const stats = await page.locator('#stats').textContent();
  const s = /Experts \(paged\)(\d+) heap slots \([\d.]+ [kMG]?B\), [\d.]+ [kMG]?B RAM; of (\d+) lookups (\d+) found in the heap/.exec(stats ?? '');
  expect(s, stats ?? '').not.toBeNull();
  const slots = Number(s![1]);
  expect(slots).toBeGreaterThanOrEqual(2);
  expect(slots).toBeLessThan(32);
  expect(Number(s![3])).toBeLessThan(Number(s![2])); // some lookups missed
  const summary = await page.locator('#experts-text').textContent();
  const m = /^4 layers × 8 experts: (\d+) in the heap, (\d+) in RAM, (\d+) stored, (\d+) not downloaded; the last token's 8 picks outlined$/.exec(summary ?? '');
  expect(m, summary ?? '').not.toBeNull();
  expect(Number(m![1])).toBeGreaterThan(0);
  expect(Number(m![1])).toBeLessThanOrEqual(slots);
  await expect(page.locator('#experts-top')).toHaveText('in the heap');
});
