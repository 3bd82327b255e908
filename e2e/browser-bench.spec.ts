// The browser benchmark's page (`npm run bench -- browser`, tools/bench/browser.ts) built and served
// as the bench does it, on the demo's default model: wllama (llama.cpp compiled to WebAssembly, one
// thread, its wasm from node_modules) and WebMoE's WASM backend each load it in a fresh context,
// prefill the bench's prompt and decode 16 greedy tokens. Both report speeds and the same prompt
// token count, and WebMoE's text is wllama's: llama.cpp's greedy output on a trained model (the
// tokens banned on wllama's side, not UTF-8 on their own, are never its argmax here).
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { startStaticServer } from './static-server.ts';
import { buildSite, DEFAULT_MODEL, promptAndBan, visit } from '../tools/bench/browser.ts';
import type { RunRequest, Runtime } from '../tools/bench/browser-page/protocol.ts';

const SITE = fileURLToPath(new URL('../.cache/e2e/browser-bench', import.meta.url));

test('bench page: wllama and WebMoE (wasm) on the default model, same prompt tokens and greedy text', async ({ browser }) => {
  test.setTimeout(180_000);
  await buildSite(SITE, [{ name: 'default', path: DEFAULT_MODEL }]);
  const server = await startStaticServer(SITE);
  try {
    const { prompt, ban } = await promptAndBan(DEFAULT_MODEL);
    const req = (runtime: Runtime): RunRequest => ({ runtime, url: '/models/default.gguf', nCtx: 256, prompt, nDecode: 16, repeats: 1, ban });
    const wllama = await visit(browser, server.origin, req({ kind: 'wllama', threads: 1 }));
    const webmoe = await visit(browser, server.origin, req({ kind: 'webmoe', backend: 'wasm' }));
    console.log('e2e browser bench:', JSON.stringify({ wllama, webmoe }));
    if (!wllama.ok) throw new Error(`wllama: ${wllama.error}`);
    if (!webmoe.ok) throw new Error(`WebMoE: ${webmoe.error}`);
    expect(wllama.ran).toMatchObject({ threads: 1, multithread: false });
    expect(webmoe.ran).toMatchObject({ backend: 'wasm', kernels: 'wasm' });
    for (const r of [wllama, webmoe]) {
      expect(r.loadMs).toBeGreaterThan(0);
      expect(r.prefillTokS).toBeGreaterThan(0);
      expect(r.decodeTokS).toBeGreaterThan(0);
      expect(r.decodeTokens).toBe(16);
    }
    expect(webmoe.promptTokens).toBe(wllama.promptTokens);
    expect(wllama.promptTokens).toBeGreaterThan(50);
    expect(wllama.text.length).toBeGreaterThan(0);
    expect(webmoe.text).toBe(wllama.text);
  } finally {
    await server.close();
  }
});
