// The demo in a Chromium without usable WebGPU (launched without the flags that enable it on Linux,
// as most Linux desktops run it: navigator.gpu is there but requestAdapter() gives null): backend
// 'auto' falls back to the WASM CPU backend, the page says so and why, and greedy generations equal
// the CPU reference's, computed here in Node on the same file. And <webmoe-chat backend="wasm">
// answers as the reference does. (--disable-blink-features=WebGPU
// does not remove navigator.gpu in this Chromium; the no-WebGPU-API case is the same code path,
// unit-tested in src/wasm-backend/choose.test.ts.)
import { expect, test } from '@playwright/test';
import config from '../playwright.config.ts';
import { E2EReference } from './reference.ts';

let ref: E2EReference;
test.beforeAll(async () => { ref = await E2EReference.load(); });
test.afterAll(() => ref.dispose());
const args = (config.use?.launchOptions?.args ?? []).filter((a) => !/webgpu/i.test(a));
test.use({ launchOptions: { ...config.use?.launchOptions, args } });

test('without WebGPU the demo runs the default model on the WASM backend: the CPU reference\'s greedy text', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const t0 = Date.now();
  await page.goto('/');
  expect(await page.evaluate(async () => (await navigator.gpu?.requestAdapter()) ?? null)).toBeNull();
  await page.waitForFunction(() => window.webmoe?.state === 'ready', null, { timeout: 60_000 });
  const loadMs = Date.now() - t0;
  await expect(page.locator('#error')).toBeHidden();
  expect(await page.evaluate(() => window.webmoe.model?.backend)).toBe('wasm');
  // threads: the dev server's page is cross-origin isolated (wasm-threads.spec.ts)
  await expect(page.locator('#model-info')).toContainText(/WASM CPU backend \(\d+ threads?\): no usable WebGPU here \(no-adapter: /);
  await expect(page.locator('#stats')).toContainText('WASM heap');

  if (!(await page.locator('details').evaluate((d) => (d as HTMLDetailsElement).open))) await page.click('summary');
  await page.fill('#temperature', '0'); // greedy
  await page.fill('#repeat-penalty', '1'); // off: plain argmax, as the reference
  await page.fill('#max-tokens', '32');
  const speeds: unknown[] = [];
  for (const prompt of ['Once upon a time', 'He said that']) {
    const want = ref.greedy(prompt, 32);
    const before = await page.evaluate(() => window.webmoe.generations);
    await page.fill('#prompt', prompt);
    await page.click('#generate');
    await page.waitForFunction((n) => window.webmoe.generations > n, before, { timeout: 30_000 });
    const got = (await page.evaluate(() => window.webmoe.last))!;
    expect(got.ids, `ids after ${JSON.stringify(prompt)}`).toEqual(want);
    expect(await page.locator('#output').textContent()).toBe(ref.decode(want));
    speeds.push({ prompt, tokens: got.ids.length, prefillTokS: Math.round(got.prefillTokS), decodeTokS: Math.round(got.decodeTokS ?? 0) });
  }
  console.log('e2e wasm backend:', JSON.stringify({ loadMs, speeds }));
  expect(errors).toEqual([]);
});

test('<webmoe-chat backend="wasm"> loads on the WASM backend and answers as the CPU reference does', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/e2e/pages/chat-wasm.html'); // <webmoe-chat backend="wasm" temperature="0" repeat-penalty="1" max-tokens="24">
  await page.waitForFunction(() => document.querySelector('webmoe-chat')?.state === 'ready', null, { timeout: 60_000 });
  const r = await page.evaluate(async () => {
    const el = document.querySelector('webmoe-chat')!;
    const result = await el.send('Hi there');
    return { result, status: el.shadowRoot!.textContent ?? '' };
  });
  expect(r.status).toContain('Ready on the WASM CPU backend.');
  expect(r.result.ids).toEqual(ref.greedy(r.result.promptIds, 24));
  expect(r.result.ids.length).toBeGreaterThan(0);

  // An element asking for expert paging with backend auto: no adapter here, so the WASM backend,
  // which pages the experts into its heap: no option ignored, the same answer.
  const paged = await page.evaluate(async () => {
    const el = document.createElement('webmoe-chat');
    el.setAttribute('expert-budget', '1');
    for (const [k, v] of [['temperature', '0'], ['repeat-penalty', '1'], ['max-tokens', '24']]) el.setAttribute(k, v);
    const notices: string[] = [];
    el.addEventListener('webmoe-notice', (e) => notices.push(e.detail.what));
    const ready = new Promise((resolve) => el.addEventListener('webmoe-ready', resolve, { once: true }));
    document.body.append(el);
    await ready;
    return { notices, result: await el.send('Hi there') };
  });
  expect(paged.notices).not.toContain('ignored-option');
  expect(paged.result.ids).toEqual(r.result.ids);
  expect(errors).toEqual([]);
});
