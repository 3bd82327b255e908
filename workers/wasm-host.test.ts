// The WASM CPU backend behind the engine worker's protocol, reached as a page reaches it (the client
// API over comlink to an EngineHost, as engine-host.test.ts does for WebGPU): backend 'auto' on this
// machine's only adapter, SwiftShader (Dawn), takes the WASM backend and says why; greedy text
// streams and equals the CPU reference's (computed here); an abort stops within a token or two;
// stats report the heap; with expert paging (expertBudget) the same text and the heap slots'
// figures; what the WASM backend lacks is refused by name before any download.
// (Multi-turn chat with the KV cache reused on this backend: kv-reuse.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebMoE, type LoadProgress } from '../src/client/webmoe.ts';
import { GGMLType } from '../src/gguf/types.ts';
import { memoryStore } from '../src/storage/memory.ts';
import { makeModel } from '../tools/factory/make-model.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { startFaultServer, type FaultServer } from '../tools/faultserver/server.ts';
import { readGGUF } from '../src/gguf/reader.ts';
import { bytesSource } from '../src/gguf/source.ts';
import { planModel } from '../src/model/plan.ts';
import { HeapExperts } from '../src/wasm-backend/experts.ts';
import { EngineHost } from './engine-host.ts';
import { abortAfterSix, connectTo, defaultModelBytes, expectGreedyStreams, referenceOracle, type ReferenceOracle } from './testing.ts';

const bytes = defaultModelBytes();

describe('the WASM backend behind the client API', () => {
  let server: FaultServer;
  let tok: Tokenizer;
  let expected: ReferenceOracle['expected'];
  const host = new EngineHost({ store: memoryStore() });
  let llm: WebMoE;
  const progress: LoadProgress[] = [];

  beforeAll(async () => {
    server = await startFaultServer();
    server.serve('/m.gguf', bytes);
    ({ tok, expected } = await referenceOracle(bytes, 128));
    llm = await WebMoE.load(server.url('/m.gguf'), { connect: connectTo(host), nCtx: 128, onProgress: (p) => progress.push(p) });
  }, 120_000);
  afterAll(async () => {
    await llm?.unload();
    tok.dispose();
    await server.close();
  });

  it("auto takes the WASM backend on SwiftShader, and says why", () => {
    expect(llm.model).toMatchObject({ backend: 'wasm', kernels: 'wasm', f16: false, nCtx: 128, nExpert: 8, adapter: expect.stringContaining('swiftshader') });
    expect(llm.model.backendReason).toMatch(/swiftshader.* is a software adapter: the WASM CPU backend is faster here \(measured/);
    expect(host.engine).toBeUndefined(); // no WebGPU engine was made
    const steps = progress.flatMap((p) => (p.type === 'load' ? [p.step] : []));
    expect(steps[0]).toBe('gpu'); // the adapter probe
    expect(steps.at(-1)).toBe('ready');
    const weights = progress.filter((p) => p.type === 'load' && p.step === 'weights');
    expect(weights.length).toBeGreaterThan(0);
    for (const w of weights) expect(w).toMatchObject({ backend: 'wasm' });
    const last = weights.at(-1)!;
    if (last.type === 'load') expect(last.done).toBe(last.total);
  });

  it('greedy text streams chunk by chunk and equals the CPU reference', async () => {
    await expectGreedyStreams(llm, { tok, expected }, ['The', 'Once upon a time'], 40);
  });

  it('abort stops within a token or two; the next generation is unaffected', async () => {
    const { r, afterAbort } = await abortAfterSix(llm, 200);
    // The forward pass is synchronous: the worker takes one task per token for messages, and
    // here page and worker share one thread, so the cancel's hops cost up to two tokens.
    expect(afterAbort).toBeLessThanOrEqual(2);
    expect(r.ids).toEqual(expected([...tok.encode('The')], r.ids.length));
    const prompt = [...tok.encode('He said that')];
    expect((await llm.generate(prompt, { temperature: 0, maxTokens: 24 }).result).ids).toEqual(expected(prompt, 24));
  });

  it('stats: speeds and the WebAssembly heap', async () => {
    const s = await llm.stats();
    expect(s.engine.decodeTokens).toBeGreaterThan(0);
    expect(s.engine.prefillTokens).toBeGreaterThan(0);
    expect(s.engine.gpuBytes).toEqual({ weights: 0, kv: 0, scratch: 0, io: 0 });
    expect(s.wasm).toMatchObject({ threads: 1 });
    expect(s.wasm!.weightBytes).toBeGreaterThan(0.9 * bytes.length);
    expect(s.wasm!.heapBytes).toBeGreaterThan(s.wasm!.weightBytes);
  });

  it("backend 'wasm' asks for no adapter; with expert paging at the fewest heap slots it generates the same ids and reports the slots, and a budget below one token's experts is refused by name before any download", async () => {
    server.serve('/w.gguf', bytes);
    const steps: string[] = [];
    const w = await WebMoE.load(server.url('/w.gguf'), {
      connect: connectTo(new EngineHost({ store: memoryStore() })), nCtx: 64, backend: 'wasm',
      onProgress: (p) => { if (p.type === 'load') steps.push(p.step); },
    });
    try {
      expect(w.model).toMatchObject({ backend: 'wasm', backendReason: "backend 'wasm' was asked for", adapter: '' });
      expect(steps).not.toContain('gpu');
      const prompt = [...tok.encode('The')];
      expect((await w.generate(prompt, { temperature: 0, maxTokens: 8 }).result).ids).toEqual(expected(prompt, 8));
    } finally {
      await w.unload();
    }
    const file = await readGGUF(bytesSource(bytes));
    const need = HeapExperts.minBudget(planModel(file));
    // requests touching the last expert tensor are held: the download cannot complete, yet the
    // paged model must be ready (no routed expert is read at load)
    const last = [...file.tensors].sort((a, b) => b.offset - a.offset).find((t) => t.name.endsWith('_exps.weight'))!;
    const [from, to] = [file.dataOffset + last.offset, file.dataOffset + last.offset + last.nBytes];
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    const holding: typeof fetch = async (input, init) => {
      const m = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('range') ?? '');
      if (m && Number(m[1]) < to && Number(m[2]) >= from) await released;
      return fetch(input, init);
    };
    server.serve('/p.gguf', bytes);
    const p = await WebMoE.load(server.url('/p.gguf'), { connect: connectTo(new EngineHost({ store: memoryStore(), fetch: holding })), nCtx: 64, backend: 'wasm', expertBudget: need });
    try {
      const ready = await p.stats();
      expect(ready.download.complete).toBe(false);
      expect(ready.wasm!.experts).toMatchObject({ misses: 0 });
      release();
      const prompt = [...tok.encode('Once upon a time')];
      expect((await p.generate(prompt, { temperature: 0, maxTokens: 16 }).result).ids).toEqual(expected(prompt, 16));
      const e = (await p.stats()).wasm!.experts!;
      expect(e).toMatchObject({ slots: p.model.nExpertUsed });
      expect(e.misses).toBeGreaterThan(0);
      expect(e.storeReads + e.ramHits).toBeGreaterThanOrEqual(e.misses); // (prefetch reads guesses too)
      expect(e.guessHits).toBeGreaterThan(0);
    } finally {
      release();
      await p.unload();
    }
    server.serve('/small.gguf', bytes);
    const small = await WebMoE.load(server.url('/small.gguf'), {
      connect: connectTo(new EngineHost({ store: memoryStore() })), backend: 'wasm', expertBudget: need - 1,
    }).catch((x: unknown) => x);
    expect(small).toMatchObject({ name: 'ExpertBudgetError', code: 'expert-budget' });
    expect((small as Error).message).toMatch(/give at least/);
    expect(server.bytesSent('/small.gguf')).toBeLessThan(bytes.length / 2); // the header, not the weights
  }, 60_000);

  it('a model the WASM backend cannot run (head dimension above 1024) is refused by name before its weights are downloaded', async () => {
    // (auto on a software adapter keeps such a model on WebGPU: choose.test.ts; loading it on
    // SwiftShader here would take a minute. Every weight type runs on WASM: the head size is what
    // remains.)
    const wide = makeModel({ arch: 'llama', type: GGMLType.Q8_0, seed: 3, hp: { headDim: 1056 } });
    server.serve('/wide-head.gguf', wide);
    const refused = await WebMoE.load(server.url('/wide-head.gguf'), { connect: connectTo(new EngineHost({ store: memoryStore() })), backend: 'wasm' })
      .catch((x: unknown) => x);
    expect(refused).toMatchObject({ name: 'WasmBackendError', code: 'unsupported-model' });
    expect((refused as Error).message).toMatch(/head dimension 1056/);
    expect(server.bytesSent('/wide-head.gguf')).toBeLessThan(wide.length / 2); // the header, not the weights
  }, 60_000);
});
