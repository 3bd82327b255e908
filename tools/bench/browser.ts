// Browser benchmark (issue 12): WebMoE against wllama (llama.cpp compiled to WebAssembly, npm
// @wllama/wllama, CPU only: n_gpu_layers 0) in one headless Chromium, on the demo's default model
// and the two ~100 MB factory models of tools/bench/engine.ts (dense Q8_0; MoE Q4_K, 8 experts
// top-2), each made once into .cache/bench/. Runtimes: wllama with 1 thread (plain page) and 2
// threads (cross-origin isolated page: COOP/COEP), WebMoE with each backend of
// WEBMOE_BENCH_BACKENDS (default "webgpu,wasm"; webgpu is SwiftShader here) on the isolated page
// (the WASM backend takes threads there when it has them), and wasm also on the plain page (one
// thread). What each ran with (threads, backend, adapter) is in its `ran`.
//
// The page (tools/bench/browser-page/) is built by Vite into .cache/bench/browser-site/ and served
// with the models by e2e/static-server.ts, nothing from a CDN. Every visit is a first one: a fresh
// browser context (empty IndexedDB, OPFS, HTTP cache), load timed from the library's script not
// yet fetched to ready; then a 4-token warm-up and 3 measured generations (the best kept): a
// prompt of ~64 tokens (text: wllama takes no ids; both tokenize it as llama.cpp does and report
// the count) and 64 greedy tokens, end of text ignored, prefill and decode as each runtime times
// itself. KV cache f32 on both sides (WebMoE's on SwiftShader and WASM). Runtimes are interleaved
// per model (wllama 1t, 2t, WebMoE ..., then the next round); of WEBMOE_BENCH_ROUNDS rounds
// (default 2) the best of each is kept, and its fastest load (the machine is shared). Ratios are
// WebMoE / wllama from the same run: above 1 WebMoE is faster at decode and prefill; for load,
// below 1 WebMoE is faster.
//
// Random-weight models pick tokens whose bytes are not UTF-8 on their own; wllama's JSON layer
// throws on such text, so those tokens are banned on its side (logit_bias). That changes no speed,
// but wllama's greedy text can differ from WebMoE's there (sameText is for information).
//   npm run bench -- browser   (WEBMOE_BENCH_MODELS=default,dense-q8_0,moe-q4_k picks models)
import { execFileSync } from 'node:child_process';
import { symlinkSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser } from '@playwright/test';
import { build } from 'vite';
import { startStaticServer, type StaticServer } from '../../e2e/static-server.ts';
import { meta, readGGUF } from '../../src/gguf/reader.ts';
import { fileSource } from '../../src/gguf/source-node.ts';
import { GGMLType } from '../../src/gguf/types.ts';
import { MODELS, modelPath } from './engine.ts';
import type { RunReply, RunRequest, Runtime } from './browser-page/protocol.ts';

/** Takes well over 3 minutes (~30 first-visit loads of up to 100 MB; ~25 min on a busy 2-core machine). */
export const explicitOnly = true;

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const SITE = join(ROOT, '.cache/bench/browser-site');
export const PAGE = '/tools/bench/browser-page/index.html';
export const DEFAULT_MODEL = join(ROOT, 'public/models/webmoe-tiny-moe.q8_0.gguf');
const N_PROMPT = 64;
const N_DECODE = 64;
const N_CTX = 256; // the default model's training context; prompt + decode + warm-up fit
/** Measured generations per visit, after a warm-up; the best is kept. */
const REPEATS = 3;
const RUN_TIMEOUT_MS = 600_000;

interface Entry { name: string; runtime: Runtime; isolated: boolean }

function runtimes(backends: string[]): Entry[] {
  return [
    { name: 'wllama-1t', runtime: { kind: 'wllama', threads: 1 }, isolated: false },
    { name: 'wllama-2t', runtime: { kind: 'wllama', threads: 2 }, isolated: true },
    ...backends.map((b): Entry => ({ name: `webmoe-${b}`, runtime: { kind: 'webmoe', backend: b }, isolated: true })),
    // the WASM backend without isolation too: one thread, beside wllama's one thread
    ...backends.filter((b) => b === 'wasm').map((b): Entry => ({ name: `webmoe-${b}-plain`, runtime: { kind: 'webmoe', backend: b }, isolated: false })),
  ];
}

/** GPT-2's byte-to-unicode table reversed: each character of a byte-level BPE token to its byte. */
function gpt2ByteDecoder(): Map<string, number> {
  const m = new Map<string, number>();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    m.set(String.fromCodePoint(printable ? b : 256 + n++), b);
  }
  return m;
}

/** The model's normal tokens whose bytes are not valid UTF-8 on their own (wllama's ban list),
 *  and a prompt made of N_PROMPT of the others. */
export async function promptAndBan(path: string): Promise<{ prompt: string; ban: number[] }> {
  const src = fileSource(path);
  const file = await readGGUF(src);
  await src.close?.();
  const tokens = meta(file, 'tokenizer.ggml.tokens') as string[];
  const types = meta(file, 'tokenizer.ggml.token_type') as number[] | undefined;
  if (meta(file, 'tokenizer.ggml.model') !== 'gpt2') throw new Error(`${path}: the bench expects a byte-level BPE (gpt2) vocabulary`);
  const bytes = gpt2ByteDecoder();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const ban: number[] = [], ok: number[] = [];
  tokens.forEach((t, id) => {
    if (types && types[id] !== 1) return; // control tokens: ignore_eos and special handling
    try {
      utf8.decode(Uint8Array.from([...t].map((c) => bytes.get(c) ?? 0)));
      ok.push(id);
    } catch {
      ban.push(id);
    }
  });
  // wllama takes text only (its completion task holds the prompt as a string): the text of
  // N_PROMPT tokens, which both tokenize as llama.cpp does (to about as many tokens: each side
  // reports its count)
  const ids = Array.from({ length: N_PROMPT }, (_, i) => ok[(10 + i * 37) % ok.length]);
  const prompt = new TextDecoder().decode(Uint8Array.from(ids.flatMap((id) => [...tokens[id]].map((c) => bytes.get(c) ?? 0))));
  return { prompt, ban };
}

/** The page and its chunks (the WebMoE client and worker, wllama and its wasm) into `dir`, and
 *  the models linked into dir/models/ (served at /models/NAME.gguf). */
export async function buildSite(dir: string, models: { name: string; path: string }[]): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  await build({
    configFile: false, root: ROOT, publicDir: false, appType: 'mpa', logLevel: 'warn',
    build: { outDir: dir, target: 'es2022', rollupOptions: { input: join(ROOT, PAGE) } },
    worker: { format: 'es' },
  });
  mkdirSync(join(dir, 'models'), { recursive: true });
  for (const m of models) symlinkSync(m.path, join(dir, 'models', `${m.name}.gguf`));
}

/** One first visit: a fresh context (no storage, no cache), the page, one run. */
export async function visit(browser: Browser, origin: string, req: RunRequest): Promise<RunReply> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(origin + PAGE);
    await page.waitForFunction(() => typeof window.benchRun === 'function');
    const timeout = new Promise<RunReply>((done) => setTimeout(() => done({ ok: false, error: `no result in ${RUN_TIMEOUT_MS / 1000} s` }), RUN_TIMEOUT_MS).unref());
    return await Promise.race([page.evaluate((r) => window.benchRun!(r), req), timeout]);
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    await context.close();
  }
}

const better = (a: RunReply | undefined, b: RunReply): RunReply => {
  if (!a || !a.ok) return b.ok || !a ? b : a;
  if (!b.ok) return a;
  return { ...(a.decodeTokS + a.prefillTokS >= b.decodeTokS + b.prefillTokS ? a : b), loadMs: Math.min(a.loadMs, b.loadMs) };
};

const r2 = (x: number) => +x.toFixed(2);
const ratio = (a: number, b: number) => +(a / b).toFixed(3);

function summary(r: RunReply) {
  if (!r.ok) return { error: r.error };
  const { loadMs, wallMs, prefillTokS, decodeTokS, text, ...rest } = r;
  return { loadS: r2(loadMs / 1000), prefillTokS: r2(prefillTokS), decodeTokS: r2(decodeTokS), wallMs: Math.round(wallMs), ...rest, text: text.slice(0, 60) };
}

export default async function bench() {
  const backends = (process.env.WEBMOE_BENCH_BACKENDS ?? 'webgpu,wasm').split(',').map((s) => s.trim()).filter(Boolean);
  const rounds = Math.max(1, Number(process.env.WEBMOE_BENCH_ROUNDS ?? 2));
  const entries = runtimes(backends);
  const only = process.env.WEBMOE_BENCH_MODELS?.split(',');
  const models = [
    { name: 'default', path: DEFAULT_MODEL, what: 'the demo model: llama with 8 experts top-2, Q8_0' },
    ...MODELS.map((m) => ({ name: m.name, path: modelPath(m), what: `factory ${m.arch}, ${GGMLType[m.type]}, ${JSON.stringify(m.hp)}` })),
  ].filter((m) => !only || only.includes(m.name));
  // 2 cores shared with other jobs: the load average says how much of them the runs had
  const loadAverageBefore = loadavg().map((x) => +x.toFixed(1));
  process.stderr.write('bench browser: building the page\n');
  await buildSite(SITE, models);

  const plain = await startStaticServer(SITE);
  const isolated = await startStaticServer(SITE);
  isolated.headers.push({ match: /./, headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } });
  const origin = (e: Entry, s: { plain: StaticServer; isolated: StaticServer }) => (e.isolated ? s.isolated : s.plain).origin;
  // the e2e tests' Chromium and flags (WebGPU on SwiftShader)
  const { default: playwrightConfig } = await import('../../playwright.config.ts');
  const browser = await chromium.launch(playwrightConfig.use?.launchOptions);
  const version = browser.version();
  const out: Record<string, unknown> = {};
  try {
    for (const m of models) {
      const { prompt, ban } = await promptAndBan(m.path);
      const req = (runtime: Runtime): RunRequest => ({ runtime, url: `/models/${m.name}.gguf`, nCtx: N_CTX, prompt, nDecode: N_DECODE, repeats: REPEATS, ban });
      const best: Record<string, RunReply> = {};
      for (let round = 0; round < rounds; round++) {
        for (const e of entries) {
          process.stderr.write(`bench browser: ${m.name} ${e.name} (round ${round + 1}/${rounds})\n`);
          const r = await visit(browser, origin(e, { plain, isolated }), req(e.runtime));
          process.stderr.write(`  ${JSON.stringify(summary(r))}\n`);
          best[e.name] = better(best[e.name], r);
        }
      }
      const ratios: Record<string, unknown> = {};
      for (const w of entries.filter((e) => e.runtime.kind === 'wllama')) {
        for (const o of entries.filter((e) => e.runtime.kind === 'webmoe')) {
          const a = best[o.name], b = best[w.name];
          if (!a.ok || !b.ok) continue;
          ratios[`${o.name}/${w.name}`] = { decode: ratio(a.decodeTokS, b.decodeTokS), prefill: ratio(a.prefillTokS, b.prefillTokS), load: ratio(a.loadMs, b.loadMs), samePromptTokens: a.promptTokens === b.promptTokens, sameText: a.text === b.text };
        }
      }
      out[m.name] = {
        loadAverageAfter: loadavg().map((x) => +x.toFixed(1)),
        model: { file: m.path, bytes: statSync(m.path).size, what: m.what, promptTokensPicked: N_PROMPT, decodeTokens: N_DECODE, nCtx: N_CTX, bannedForWllama: ban.length },
        runs: Object.fromEntries(entries.map((e) => [e.name, summary(best[e.name])])),
        ratio: ratios,
      };
    }
  } finally {
    await browser.close();
    await plain.close();
    await isolated.close();
  }
  // the page is built from the working tree, which others may be changing: say from what
  const tree = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim();
  return { tree, chromium: version, rounds, repeats: REPEATS, backends, loadAverageBefore, models: out };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await bench(), null, 2));
}
