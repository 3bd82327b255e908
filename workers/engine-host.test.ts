// The engine worker's logic in Node, reached exactly as a page reaches it: the client API
// (src/client/webmoe.ts) over comlink on a MessageChannel to an EngineHost, which downloads the
// embedded default model from a loopback HTTP server into a memory store and runs it on WebGPU
// (Dawn, SwiftShader). Greedy output must equal the CPU reference's (computed here); an abort
// stops within one token and leaves the engine usable; errors cross with name, code and stack; a
// lost device is recovered; a second load from the same store fetches nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebMoE } from '../src/client/webmoe.ts';
import type { LoadProgress } from '../src/client/webmoe.ts';
import type { WorkerEvent } from '../src/client/protocol.ts';
import { readGGUF } from '../src/gguf/reader.ts';
import { bytesSource } from '../src/gguf/source.ts';
import { memoryStore } from '../src/storage/memory.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { startFaultServer, type FaultServer } from '../tools/faultserver/server.ts';
import { EngineHost } from './engine-host.ts';
import { abortAfterSix, connectTo, defaultModelBytes, expectGreedyStreams, referenceOracle, type ReferenceOracle } from './testing.ts';

const bytes = defaultModelBytes();

describe('engine host behind the client API', () => {
  let server: FaultServer;
  let tok: Tokenizer;
  let expected: ReferenceOracle['expected'];
  const store = memoryStore();
  const host = new EngineHost({ store });
  let llm: WebMoE;
  const progress: LoadProgress[] = [];
  const events: WorkerEvent[] = [];

  beforeAll(async () => {
    server = await startFaultServer();
    server.serve('/m.gguf', bytes);
    ({ tok, expected } = await referenceOracle(bytes, 128));
    llm = await WebMoE.load(server.url('/m.gguf'), {
      connect: connectTo(host), nCtx: 128, backend: 'webgpu', onProgress: (p) => progress.push(p), onEvent: (e) => events.push(e),
    });
  }, 120_000);
  afterAll(async () => {
    await llm?.unload();
    tok.dispose();
    await server.close();
  });

  it('loads with download progress and engine steps', () => {
    expect(llm.model).toMatchObject({ architecture: 'llama', nExpert: 8, nExpertUsed: 2, nVocab: tok.nVocab, nCtx: 128, fileBytes: bytes.length });
    expect(llm.model.adapter).toContain('swiftshader');
    expect(llm.model).toMatchObject({ backend: 'webgpu', backendReason: "backend 'webgpu' was asked for", kernels: 'software' });
    const phases = progress.flatMap((p) => (p.type === 'progress' ? [p.phase] : []));
    expect(phases).toContain('download');
    expect(phases.at(-1)).toBe('complete');
    const last = progress.filter((p) => p.type === 'progress').at(-1);
    expect(last).toMatchObject({ bytesDone: bytes.length, bytesTotal: bytes.length });
    const steps = progress.flatMap((p) => (p.type === 'load' ? [p.step] : []));
    expect(steps[0]).toBe('gpu');
    expect(steps.at(-1)).toBe('ready');
    const weights = progress.filter((p) => p.type === 'load' && p.step === 'weights').at(-1);
    expect(weights).toMatchObject({ type: 'load', done: expect.any(Number) });
    if (weights?.type === 'load') expect(weights.done).toBe(weights.total);
    expect(events.some((e) => e.type === 'notice')).toBe(true); // persistence asked, etc.
    expect(server.bytesSent('/m.gguf')).toBeGreaterThanOrEqual(bytes.length);
  });

  it('greedy text streams chunk by chunk and equals the CPU reference', async () => {
    await expectGreedyStreams(llm, { tok, expected }, ['The', 'Once upon a time'], 40);
  });

  it('abort stops within one token; the next generation is unaffected', async () => {
    const { r, afterAbort } = await abortAfterSix(llm, 100);
    expect(r.ids.length).toBeLessThan(100);
    // Tokens already sampled when the cancel arrived, at most one forward pass later.
    expect(afterAbort).toBeLessThanOrEqual(1);

    // Leaving the loop early stops it too.
    const gen2 = llm.generate('The', { temperature: 0, maxTokens: 100, ignoreEos: true });
    for await (const c of gen2) if (c.ids.length) break;
    expect((await gen2.result).stop).toBe('aborted');

    const prompt = [...tok.encode('He said that')];
    const again = await llm.generate(prompt, { temperature: 0, maxTokens: 24 }).result;
    expect(again.ids).toEqual(expected(prompt, 24));
  });

  it('sampling with a seed repeats itself; chat uses the template', async () => {
    const opts = { temperature: 0.9, topK: 40, seed: 11, maxTokens: 16, ignoreEos: true };
    const a = await llm.generate('The', opts).result;
    const b = await llm.generate('The', opts).result;
    expect(a.seed).toBe(11);
    expect(b.ids).toEqual(a.ids);
    const c = await llm.generate('The', { ...opts, seed: undefined }).result;
    expect(c.seed).toEqual(expect.any(Number)); // a random seed, reported so it can be repeated
    const chat = await llm.chat([{ role: 'user', content: 'Hello' }], { temperature: 0, maxTokens: 4 }).result;
    // No chat template in this model: llama.cpp's plain fallback.
    expect(tok.decode(chat.promptIds)).toMatch(/User: Hello\s*\nAssistant:/);
  });

  it('errors cross with name, code, stack and a message that says what to do', async () => {
    const bad = llm.generate([1, tok.nVocab + 5], { maxTokens: 2 });
    const e = await bad.result.catch((x: unknown) => x);
    expect(e).toMatchObject({ name: 'WebMoEHostError', code: 'bad-token' });
    expect(String((e as Error).stack)).toContain('engine-host.ts'); // the worker side's stack
    const iterErr = await (async () => { for await (const _ of llm.generate('', {})) { /* nothing */ } })().catch((x: unknown) => x);
    expect(iterErr).toMatchObject({ name: 'WebMoEHostError', code: 'empty-prompt' });

    const missing = await WebMoE.load(server.url('/nothing.gguf'), { connect: connectTo(new EngineHost({ store: memoryStore() })) })
      .catch((x: unknown) => x);
    expect(missing).toMatchObject({ name: 'HttpStatusError', code: 'http-status' });
    expect((missing as Error).message).toMatch(/404.*no file at this URL/);
  });

  it('a lost device: the error says the engine was recreated, and the retry works', async () => {
    host.engine!.session.device.destroy();
    const e = await llm.generate('The', { temperature: 0, maxTokens: 8 }).result.catch((x: unknown) => x);
    expect(e).toMatchObject({ name: 'GPUEngineError', code: 'device-lost' });
    expect((e as Error).message).toMatch(/recreated the engine.*run the generation again/);
    const prompt = [...tok.encode('The')];
    expect((await llm.generate(prompt, { temperature: 0, maxTokens: 12 }).result).ids).toEqual(expected(prompt, 12));
  }, 120_000);

  it('stats: speeds, bytes and GPU memory', async () => {
    const s = await llm.stats();
    expect(s.download).toMatchObject({ bytesTotal: bytes.length, bytesStored: bytes.length, complete: true, chunksResumed: 0 });
    expect(s.engine.decodeTokens).toBeGreaterThan(0);
    expect(s.engine.gpuBytes.weights).toBeGreaterThan(0.9 * bytes.length);
    expect(s.last?.ids.length).toBe(12);
  });

  it('paged experts: ready before the download completes, experts fetched as routed, same text', async () => {
    // Requests that touch the last expert tensor's bytes are held until released: the download cannot
    // complete, yet the model must become ready (it needs no routed expert to load).
    server.serve('/paged.gguf', bytes);
    const file = await readGGUF(bytesSource(bytes));
    const last = [...file.tensors].sort((a, b) => b.offset - a.offset).find((t) => t.name.endsWith('_exps.weight'))!;
    const [from, to] = [file.dataOffset + last.offset, file.dataOffset + last.offset + last.nBytes];
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    let held = 0;
    const holding: typeof fetch = async (input, init) => {
      const m = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('range') ?? '');
      if (m && Number(m[1]) < to && Number(m[2]) >= from) { held++; await released; }
      return fetch(input, init);
    };
    const perExpert = 3 * 256 * 128 * (34 / 32); // gate, up, down of 256 x 128 Q8_0 (the default model)
    const paged = await WebMoE.load(server.url('/paged.gguf'), {
      connect: connectTo(new EngineHost({ store: memoryStore(), fetch: holding })), nCtx: 128, expertBudget: 8 * perExpert * 1.05, backend: 'webgpu',
    });
    try {
      // (backend auto would take the WASM backend on SwiftShader, which pages too: wasm-host.test.ts)
      expect(paged.model.backend).toBe('webgpu');
      const ready = await paged.stats();
      expect(held).toBeGreaterThan(0);
      expect(ready.download.complete).toBe(false);
      expect(ready.engine.experts).toMatchObject({ slots: 8, misses: 0 });
      release();
      const prompt = [...tok.encode('The house was')];
      const r = await paged.generate(prompt, { maxTokens: 12, temperature: 0 }).result;
      expect(r.ids).toEqual(expected(prompt, 12));
      const after = await paged.stats();
      expect(after.engine.experts!.misses).toBeGreaterThan(0);
      expect(after.engine.gpuBytes.weights).toBeLessThan(bytes.length - 2e6); // at most 8 of 32 experts on the GPU
    } finally {
      release();
      await paged.unload();
    }
  }, 120_000);

  it('a second load from the same store fetches nothing; a slow load can be cancelled', async () => {
    const before = server.bytesSent('/m.gguf');
    const again = await WebMoE.load(server.url('/m.gguf'), { connect: connectTo(new EngineHost({ store })) });
    try {
      const s = await again.stats();
      expect(s.download).toMatchObject({ bytesFetched: 0, complete: true });
      expect(s.download.chunksResumed).toBeGreaterThan(0);
      expect(server.bytesSent('/m.gguf')).toBe(before);
      expect(await WebMoE.listModels().catch((x: unknown) => (x as Error).name)).toBe('StoreUnavailableError'); // no IndexedDB in Node
    } finally {
      await again.unload();
    }

    server.serve('/slow.gguf', bytes, { rate: 200_000 }); // 21 s for the whole file
    const ac = new AbortController();
    const t0 = performance.now();
    const slow = WebMoE.load(server.url('/slow.gguf'), {
      connect: connectTo(new EngineHost({ store: memoryStore() })), signal: ac.signal,
      onProgress: (p) => { if (p.type === 'progress' && p.phase === 'download') ac.abort(); },
    });
    await expect(slow).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - t0).toBeLessThan(10_000);
  }, 120_000);
});
