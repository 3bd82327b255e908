// The browser benchmark's page (tools/bench/browser.ts drives it in headless Chromium): one run
// of one runtime on one model per fresh browser context. It times the first visit's load (from
// the library's script not yet fetched and empty storage to ready), then a short warm-up
// generation, then `repeats` measured ones (the best kept): the prompt (text) and nDecode greedy
// tokens, end of text ignored, prefill and decode tok/s as each runtime times itself (WebMoE: its engine worker's
// GenerationResult; wllama: llama-server's `timings`). The page asserts nothing.
import type { RawCompletionParams } from '@wllama/wllama';
// wllama's wasm from node_modules, emitted by the build beside this page: nothing from a CDN.
import wllamaWasm from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import type { RunReply, RunRequest, RunResult } from './protocol.ts';

declare global {
  interface Window {
    benchRun?: (req: RunRequest) => Promise<RunReply>;
  }
}

const WARMUP_TOKENS = 4;

/** The best of `n` measured generations (decode + prefill tok/s): the machine is shared, and a
 *  slower one measures the neighbours. */
async function bestOf(n: number, run: () => Promise<RunResult>): Promise<RunResult> {
  let best: RunResult | undefined;
  const each: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const r = await run();
    each.push([+r.prefillTokS.toFixed(1), +r.decodeTokS.toFixed(1)]);
    if (!best || r.decodeTokS + r.prefillTokS > best.decodeTokS + best.prefillTokS) best = r;
  }
  return { ...best!, each };
}

async function runWllama(req: RunRequest, threads: number): Promise<RunResult> {
  const t0 = performance.now();
  const { Wllama } = await import('@wllama/wllama');
  const wllama = new Wllama({ default: wllamaWasm }, { suppressNativeLog: true });
  wllama.setCompat(null); // compat mode would fetch its worker and wasm from a CDN
  await wllama.loadModelFromUrl(new URL(req.url, location.href).href, {
    n_threads: threads, n_gpu_layers: 0, n_ctx: req.nCtx,
    // f32 as WebMoE's KV cache on SwiftShader and on the WASM backend (tools/bench/engine.ts does the same)
    cache_type_k: 'f32', cache_type_v: 'f32',
  });
  const loadMs = performance.now() - t0;
  try {
    // logit_bias as llama-server reads it (wllama's type says otherwise)
    const params = (maxTokens: number) => ({
      prompt: req.prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true, cache_prompt: false,
      logit_bias: Object.fromEntries(req.ban.map((id) => [String(id), -1e9])),
    }) as unknown as RawCompletionParams & { stream: false };
    await wllama.createCompletion(params(WARMUP_TOKENS));
    const ran = { threads: wllama.getNumThreads(), multithread: wllama.isMultithread(), crossOriginIsolated };
    return await bestOf(req.repeats, async () => {
      const t1 = performance.now();
      const r = await wllama.createCompletion(params(req.nDecode));
      const wallMs = performance.now() - t1;
      const t = r.timings;
      if (!t) throw new Error('wllama gave no timings');
      return {
        loadMs, promptTokens: t.prompt_n, prefillTokS: t.prompt_per_second, decodeTokens: t.predicted_n, decodeTokS: t.predicted_per_second,
        wallMs, text: r.choices[0]?.text ?? '', ran,
      };
    });
  } finally {
    await wllama.exit();
  }
}

async function runWebMoE(req: RunRequest, backend: string): Promise<RunResult> {
  const t0 = performance.now();
  const { WebMoE } = await import('../../../src/client/index.ts');
  // backend is a string here so the page builds whether or not LoadOptions has it yet
  const llm = await WebMoE.load(req.url, { nCtx: req.nCtx, ...({ backend } as object) });
  const loadMs = performance.now() - t0;
  try {
    const model = llm.model as typeof llm.model & { backend?: string; backendReason?: string };
    // an engine that does not know the option ignores it: what ran must be what was asked
    const ran = model.backend ?? 'webgpu';
    if (ran !== backend) throw new Error(`asked for backend '${backend}', ran '${ran}': ${model.backendReason ?? 'this WebMoE has no backend option'}`);
    const opts = { temperature: 0, ignoreEos: true };
    await llm.generate(req.prompt, { ...opts, maxTokens: WARMUP_TOKENS }).result;
    const stats = (await llm.stats()) as { wasm?: { threads: number } };
    const what = { backend: ran, reason: model.backendReason, adapter: model.adapter, kernels: model.kernels, ...(stats.wasm && { threads: stats.wasm.threads }), crossOriginIsolated };
    return await bestOf(req.repeats, async () => {
      const t1 = performance.now();
      const r = await llm.generate(req.prompt, { ...opts, maxTokens: req.nDecode }).result;
      const wallMs = performance.now() - t1;
      return {
        loadMs, promptTokens: r.prefilledTokens, prefillTokS: r.prefillTokS, decodeTokens: r.ids.length, decodeTokS: r.decodeTokS ?? 0,
        wallMs, text: r.text, ran: what,
      };
    });
  } finally {
    await llm.unload();
  }
}

window.benchRun = async (req) => {
  try {
    const r = req.runtime.kind === 'wllama' ? await runWllama(req, req.runtime.threads) : await runWebMoE(req, req.runtime.backend);
    return { ok: true, ...r };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
};
document.getElementById('out')!.textContent = 'bench page loaded';
