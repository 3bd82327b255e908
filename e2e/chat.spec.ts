// <webmoe-chat> in headless Chromium on SwiftShader, on a page that holds nothing but the script
// tag and the element, served with a strict Content-Security-Policy (no inline script or style,
// no eval; WebAssembly allowed): the default model loads and answers; a second turn prefills only
// its new tokens and its greedy text equals the CPU reference's (src/reference, computed here on
// the same file over the whole conversation's token ids); the events come in order; Stop ends an
// answer within a few tokens; two elements share one worker; markup from the model and the user
// stays text; a load error is shown inside the element.
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import type { WebMoEChat } from '../src/chat/element.ts';
import type { GenerationResult } from '../src/client/protocol.ts';
import { applyChatTemplate } from '../src/tokenizer/chat.ts';
import { E2EReference } from './reference.ts';
import { fetchRetry } from './route-fetch.ts';

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; worker-src 'self'; connect-src 'self'";
const PAGE = '/e2e/pages/chat.html';
const bytes = new Uint8Array(readFileSync('public/models/webmoe-tiny-moe.q8_0.gguf'));
const MAX_TOKENS = 48;

interface LogEntry { type: string; el: number; detail: unknown }
declare global {
  interface Window {
    chatLog: LogEntry[];
    cspViolations: string[];
  }
}

let ref: E2EReference;
test.beforeAll(async () => { ref = await E2EReference.load(bytes); });
test.afterAll(() => ref.dispose());

const encode = (text: string, addSpecial = false) => [...ref.tok.encode(text, { addSpecial, parseSpecial: true })];
/** The reference's greedy ids on the whole prompt, cut before the end-of-generation token. */
const expected = (prompt: number[], n = MAX_TOKENS): number[] => ref.greedy(prompt, n);

/** Every response of the page's origin gets the CSP header (the page's, and the worker's: a
 *  module worker has its own policy, from its script's response); element events and CSP
 *  violations are logged in the page from before its first script. */
async function open(page: Page): Promise<void> {
  await page.route((url) => url.hostname === '127.0.0.1', async (route) => {
    const res = await fetchRetry(route);
    await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': CSP } });
  });
  await page.addInitScript(() => {
    window.chatLog = [];
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI || e.sample}`));
    const log = (e: Event) => {
      if (!(e instanceof CustomEvent)) return;
      const el = [...document.querySelectorAll('webmoe-chat')].findIndex((x) => x === e.target);
      const d: unknown = e.detail;
      const detail = e.type === 'webmoe-progress' ? e.detail.type
        : e.type === 'webmoe-error' ? { name: e.detail.name, code: e.detail.code, message: e.detail.message } : d;
      window.chatLog.push({ type: e.type, el, detail });
    };
    for (const t of ['webmoe-progress', 'webmoe-ready', 'webmoe-token', 'webmoe-done', 'webmoe-error']) document.addEventListener(t, log);
  });
  const res = await page.goto(PAGE);
  expect(res?.headers()['content-security-policy']).toBe(CSP);
}

async function ready(page: Page, count = 1): Promise<void> {
  await page.waitForFunction((n) => {
    const els = [...document.querySelectorAll('webmoe-chat')];
    return els.length >= n && els.every((el) => el.state === 'ready');
  }, count, { timeout: 90_000 });
}

/** Waits for element `el`'s `n`-th answer and returns its result. */
async function answer(page: Page, el: number, n: number): Promise<GenerationResult> {
  await page.waitForFunction(([el, n]) => window.chatLog.filter((x) => x.el === el && (x.type === 'webmoe-done' || x.type === 'webmoe-error')).length >= n,
    [el, n], { timeout: 60_000 });
  const last = await page.evaluate((el) => window.chatLog.filter((x) => x.el === el && (x.type === 'webmoe-done' || x.type === 'webmoe-error')).at(-1), el);
  if (last?.type !== 'webmoe-done') throw new Error(`no answer: ${JSON.stringify(last?.detail)}`);
  return last.detail as GenerationResult;
}

const greedySettings = (page: Page) => page.locator('webmoe-chat').first().evaluate((el: WebMoEChat) => {
  el.temperature = 0; // greedy
  el.repeatPenalty = 1; // off: plain argmax, as the reference
  el.maxTokens = 48;
});

test('under the CSP: the default model answers, a second turn prefills only its new tokens, events in order, markup stays text', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const t0 = Date.now();
  await open(page);
  await ready(page);
  const loadMs = Date.now() - t0;
  const chat = page.locator('webmoe-chat');
  await expect(chat.locator('[part="status"]')).toContainText('8 experts (2 per token)');

  // The CSP is enforced: an inline style attribute and an inline script are refused, and reported.
  const probe = await page.evaluate(() => {
    const d = document.createElement('div');
    d.setAttribute('style', 'color: rgb(1, 2, 3)');
    const s = document.createElement('script');
    s.textContent = 'window.inlineRan = 1';
    document.body.append(d, s);
    const color = getComputedStyle(d).color;
    d.remove();
    s.remove();
    return { color, inlineRan: (window as { inlineRan?: number }).inlineRan ?? 0 };
  });
  expect(probe).toEqual({ color: expect.not.stringContaining('1, 2, 3'), inlineRan: 0 });
  await expect.poll(() => page.evaluate(() => window.cspViolations.length)).toBe(2);
  const styled = await chat.evaluate((el: WebMoEChat) => el.shadowRoot!.adoptedStyleSheets.length > 0 && el.shadowRoot!.querySelector('style, [style]') === null);
  expect(styled).toBe(true);

  await greedySettings(page);
  const input = chat.getByRole('textbox', { name: 'Message' });
  await expect(chat.getByRole('button', { name: 'Send' })).toBeEnabled();
  await expect(chat.getByRole('button', { name: 'Stop' })).toBeDisabled();

  // turn 1 with the keyboard only: Tab into the element, type, Enter
  await page.locator('body').focus();
  await page.keyboard.press('Tab');
  await expect(input).toBeFocused();
  await page.keyboard.type('Hi there');
  await page.keyboard.press('Enter');
  const r1 = await answer(page, 0, 1);
  const prompt1 = encode(applyChatTemplate([{ role: 'user', content: 'Hi there' }], ref.tok.chatTemplate), true);
  expect(r1.promptIds).toEqual(prompt1);
  expect(r1.ids).toEqual(expected(prompt1));
  expect(r1.stop).toBe('eog');
  await expect(input).toHaveValue('');

  // Shift+Enter is a new line, not a send
  await input.press('Shift+Enter');
  await expect(input).toHaveValue('\n');
  await input.fill('And then?');
  await input.press('Enter');
  const r2 = await answer(page, 0, 2);
  // The whole conversation: turn 1's prompt and answer tokens, then the template's text after it.
  const fresh = encode('\nUser: And then?\nAssistant:');
  const conversation = [...prompt1, ...r1.ids, ...fresh];
  expect(r2.promptIds).toEqual(conversation);
  expect(r2.reusedTokens).toBe(prompt1.length + r1.ids.length);
  expect(r2.prefilledTokens).toBe(fresh.length);
  expect(r2.ids).toEqual(expected(conversation));
  const answers = chat.locator('[part~="assistant"] .text');
  await expect(answers).toHaveCount(2);
  expect(await answers.nth(1).textContent()).toBe(ref.decode(r2.ids).trimStart());
  await expect(chat.locator('[part="live"]')).toHaveText(r2.text.trim());
  await expect(chat.locator('[part~="user"] .text').nth(1)).toHaveText('And then?');

  // Events in order: progress, ready, then each turn's tokens and its done; the tokens add up.
  const log = await page.evaluate(() => window.chatLog.filter((x) => x.el === 0));
  const kinds = log.map((x) => x.type.replace('webmoe-', '')).join(' ').replace(/(progress )+/, 'progress+ ').replace(/(token )+/g, 'token+ ');
  expect(kinds).toBe('progress+ ready token+ done token+ done');
  const tokens = log.filter((x) => x.type === 'webmoe-token').map((x) => x.detail as { text: string; ids: number[] });
  expect(tokens.flatMap((t) => t.ids)).toEqual([...r1.ids, ...r2.ids]);
  expect(tokens.map((t) => t.text).join('')).toBe(r1.text + r2.text);

  // Markup: the user's stays text, and so does the model's answer (this prompt makes it write
  // "<...@wall.org>"); Clear starts a new conversation.
  await input.focus();
  await page.keyboard.press('Tab'); // Send
  await page.keyboard.press('Tab'); // (Stop is disabled) Clear
  await expect(chat.getByRole('button', { name: 'Clear' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(chat.locator('[part~="message"]')).toHaveCount(0);
  const markup = 'Write <b>bold</b> <img src=x onerror="window.pwned = 1">';
  await input.fill(markup);
  await input.press('Enter');
  const r3 = await answer(page, 0, 3);
  expect(r3.promptIds).toEqual(encode(applyChatTemplate([{ role: 'user', content: markup }], ref.tok.chatTemplate), true));
  expect(r3.text).toContain('<');
  await expect(chat.locator('[part~="user"] .text')).toHaveText(markup);
  expect(await answers.first().textContent()).toBe(ref.decode(r3.ids).trimStart());
  const textOnly = await chat.evaluate((el: WebMoEChat) => [...el.shadowRoot!.querySelectorAll('.text')].every((t) =>
    [...t.childNodes].every((n) => n.nodeType === Node.TEXT_NODE)) && el.shadowRoot!.querySelector('.text *, b, img') === null);
  expect(textOnly).toBe(true);
  await page.waitForTimeout(200); // an <img> would have fired onerror by now
  expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();

  expect(await page.evaluate(() => window.cspViolations)).toHaveLength(2); // the probe's, none of the element's
  expect(errors).toEqual([]);
  const figures = { loadMs, turn1: { prefilled: r1.prefilledTokens, prefillTokS: r1.prefillTokS, decodeTokS: r1.decodeTokS },
    turn2: { prefilled: r2.prefilledTokens, reused: r2.reusedTokens, prefillTokS: r2.prefillTokS, decodeTokS: r2.decodeTokS } };
  console.log('e2e chat:', JSON.stringify(figures));
  test.info().annotations.push({ type: 'chat', description: JSON.stringify(figures) });
});

test('two elements share one worker; Stop ends an answer; the turn after it continues', async ({ page }) => {
  test.setTimeout(180_000);
  const workers: string[] = [];
  let closed = 0;
  page.on('worker', (w) => {
    workers.push(w.url());
    w.on('close', () => closed++);
  });
  await open(page);
  await page.evaluate(() => document.body.append(Object.assign(document.createElement('webmoe-chat'), { backend: 'webgpu' }))); // as the page's own
  await ready(page, 2);
  expect(workers.length).toBe(1);
  expect(workers[0]).toContain('engine.worker');
  await page.locator('webmoe-chat').evaluateAll((els: WebMoEChat[]) => els.forEach((el) => { el.temperature = 0; el.repeatPenalty = 1; el.maxTokens = 48; }));

  // Both at once: they queue in the one worker, and both answers are right.
  const [a, b] = await page.evaluate(() => {
    const [x, y] = document.querySelectorAll('webmoe-chat');
    return Promise.all([x.send('Hi there'), y.send('Who are you?')]);
  });
  for (const [r, q] of [[a, 'Hi there'], [b, 'Who are you?']] as const) {
    expect(r.promptIds).toEqual(encode(applyChatTemplate([{ role: 'user', content: q }], ref.tok.chatTemplate), true));
    expect(r.ids).toEqual(expected(r.promptIds));
  }

  // Stop, clicked on the second element after its third token.
  await page.evaluate(() => {
    const el = document.querySelectorAll('webmoe-chat')[1];
    let n = 0;
    el.addEventListener('webmoe-token', (e) => {
      n += e.detail.ids.length;
      if (n === 3) el.shadowRoot!.querySelector<HTMLButtonElement>('[part="stop"]')!.click();
    });
  });
  const second = page.locator('webmoe-chat').nth(1);
  await second.getByRole('textbox', { name: 'Message' }).fill('Tell me a story.');
  await second.getByRole('button', { name: 'Send' }).click();
  const stopped = await answer(page, 1, 2);
  expect(stopped.stop).toBe('aborted');
  expect(stopped.ids.length).toBeGreaterThanOrEqual(3);
  expect(stopped.ids.length).toBeLessThanOrEqual(5); // those in flight, and one forward pass at most
  const full = expected(stopped.promptIds);
  expect(full.length).toBeGreaterThan(stopped.ids.length);
  expect(stopped.ids).toEqual(full.slice(0, stopped.ids.length));
  expect(stopped.promptIds.slice(0, b.promptIds.length + b.ids.length)).toEqual([...b.promptIds, ...b.ids]);
  console.log('e2e chat stop:', JSON.stringify({ clickedAfter: 3, generated: stopped.ids.length, wouldHave: full.length }));
  await expect(second.locator('[part="note"]')).toHaveText('Stopped.');
  await expect(second.getByRole('button', { name: 'Send' })).toBeEnabled();

  // The next turn continues from the tokens generated before the stop.
  const next = await second.evaluate((el: WebMoEChat) => el.send('Go on.'));
  expect(next.reusedTokens).toBe(stopped.promptIds.length + stopped.ids.length - 1);
  expect(next.promptIds.slice(0, stopped.promptIds.length + stopped.ids.length)).toEqual([...stopped.promptIds, ...stopped.ids]);
  expect(next.ids).toEqual(expected(next.promptIds));

  // Escape in the text field stops too.
  const field = second.getByRole('textbox', { name: 'Message' });
  const tokensBefore = await page.evaluate(() => window.chatLog.filter((x) => x.el === 1 && x.type === 'webmoe-token').length);
  await field.fill('Tell me a story.');
  await field.press('Enter');
  await page.waitForFunction((n) => window.chatLog.filter((x) => x.el === 1 && x.type === 'webmoe-token').length > n, tokensBefore);
  await field.press('Escape');
  const escaped = await answer(page, 1, 4);
  expect(escaped.stop).toBe('aborted');

  // The worker ends when the last element sharing it leaves the page.
  await page.evaluate(() => document.querySelectorAll('webmoe-chat')[0].remove());
  await page.waitForTimeout(300);
  expect(closed).toBe(0);
  await page.evaluate(() => document.querySelectorAll('webmoe-chat')[0].remove());
  await expect.poll(() => closed, { timeout: 10_000 }).toBe(1);
  expect(workers.length).toBe(1);
  expect(await page.evaluate(() => window.cspViolations)).toEqual([]);
});

test('a model that cannot be loaded: the error is shown inside, with its name, code and what to do', async ({ page }) => {
  await open(page);
  await page.route('**/missing.gguf', (route) => route.fulfill({ status: 404, body: 'not here' }));
  await ready(page);
  const chat = page.locator('webmoe-chat');
  await chat.evaluate((el: WebMoEChat) => { el.src = '/missing.gguf'; });
  const error = chat.getByRole('alert');
  await expect(error).toHaveText(/^HttpStatusError \[http-status\]: .*404/, { timeout: 30_000 });
  expect(await chat.evaluate((el: WebMoEChat) => el.state)).toBe('error');
  const logged = await page.evaluate(() => window.chatLog.filter((x) => x.type === 'webmoe-error').map((x) => x.detail));
  expect(logged).toEqual([expect.objectContaining({ name: 'HttpStatusError', code: 'http-status' })]);
  // Styled by the page: light and dark defaults, custom properties, ::part() (a constructable
  // stylesheet here too: the CSP refuses inline styles).
  const bg = () => chat.evaluate((el) => getComputedStyle(el).backgroundColor);
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await bg()).toBe('rgb(255, 255, 255)');
  await page.emulateMedia({ colorScheme: 'dark' });
  expect(await bg()).toBe('rgb(13, 17, 23)');
  await page.evaluate(() => {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync('webmoe-chat { --webmoe-bg: rgb(1, 2, 3) } webmoe-chat::part(send) { color: rgb(4, 5, 6) }');
    document.adoptedStyleSheets = [sheet];
  });
  expect(await bg()).toBe('rgb(1, 2, 3)');
  expect(await chat.locator('[part="send"]').evaluate((b) => getComputedStyle(b).color)).toBe('rgb(4, 5, 6)');
  expect(await page.evaluate(() => window.cspViolations)).toEqual([]);

  // Sending now says why it cannot answer.
  await expect(chat.getByRole('button', { name: 'Send' })).toBeDisabled();
  const failed = await chat.evaluate((el: WebMoEChat) => el.send('Hi').then(() => 'answered', (e: Error) => e.message));
  expect(failed).toMatch(/did not load/);
});
