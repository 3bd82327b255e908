// The WebAssembly tokenizer and sampler in Chromium, in a module worker (where the engine runs
// them), give exactly what they give in Node: token ids, decoded and streamed text, and seeded
// samples. The .wasm files are fetched from the URLs Vite serves them at, as in the demo.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { ALL_TEXTS } from '../tools/vocab/corpus.ts';
import { vocabFile } from '../tools/vocab/index.ts';
import { runWasmChecks } from './pages/wasm-cases.ts';

test('tokenizer and sampler in a browser worker match Node', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const vocab = readFileSync(await vocabFile('qwen3'));
  const texts = ALL_TEXTS.filter((_, i) => i % 3 === 0);
  const node = await runWasmChecks({ vocab: new Uint8Array(vocab), texts });

  await page.route('**/e2e-data/vocab.gguf', (route) => route.fulfill({ body: vocab, contentType: 'application/octet-stream' }));
  await page.goto('/e2e/pages/wasm.html');
  await expect(page.locator('#out')).toHaveText('ready');
  const res = await page.evaluate((t) => window.runWasm(t), texts);
  expect(res.error).toBeUndefined();
  const browser = res.ok!;
  expect(browser.ids).toEqual(node.ids);
  expect(browser.special).toEqual(node.special);
  expect(browser.decoded).toEqual(node.decoded);
  expect(browser.streamed).toEqual(node.streamed);
  expect(browser.sampled).toEqual(node.sampled);
  expect(browser.stopped).toEqual(node.stopped);
  expect(browser.full).toEqual(node.full);
  // Not vacuous: the texts came back, the samples vary, each stop string cut its text short.
  expect(browser.decoded).toEqual(texts);
  for (const ids of Object.values(browser.sampled)) expect(new Set(ids).size).toBeGreaterThan(5);
  browser.stopped.forEach((s, i) => {
    expect(browser.full[i].startsWith(s)).toBe(true);
    expect(s.length).toBeLessThan(browser.full[i].length);
  });
  expect(errors).toEqual([]);
});
