// Shared by the worker tests (engine-host, kv-reuse, tabs, openai): the embedded default model, a
// connection to an EngineHost as engine.worker.ts gives one, and the CPU reference's greedy ids.
import { readFileSync } from 'node:fs';
import { expose } from 'comlink';
import { expect } from 'vitest';
import { WebMoE, type WorkerConnection } from '../src/client/webmoe.ts';
import type { GenerationResult } from '../src/client/protocol.ts';
import type { BackendChoice, EngineWorkerApi } from '../src/client/protocol.ts';
import { readGGUF } from '../src/gguf/reader.ts';
import { bytesSource } from '../src/gguf/source.ts';
import { greedy } from '../src/reference/generate.ts';
import { ReferenceModel } from '../src/reference/model.ts';
import { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { memoryStore } from '../src/storage/memory.ts';
import { startFaultServer } from '../tools/faultserver/server.ts';
import { EngineHost } from './engine-host.ts';

export const DEFAULT_MODEL = 'public/models/webmoe-tiny-moe.q8_0.gguf';
export const defaultModelBytes = (): Uint8Array => new Uint8Array(readFileSync(DEFAULT_MODEL));

/** A connection to `host` as engine.worker.ts gives one: comlink on both ends of a MessageChannel. */
export function connectTo(host: EngineHost): () => WorkerConnection {
  return () => {
    const { port1, port2 } = new MessageChannel();
    const api: EngineWorkerApi = { call: (req, onEvent) => host.call(req, onEvent) };
    expose(api, port1);
    return { endpoint: port2, terminate: () => { port1.close(); port2.close(); } };
  };
}

/** The CPU reference (ggml numerics) and the WASM tokenizer on a model's bytes. */
export interface ReferenceOracle {
  tok: Tokenizer;
  ref: ReferenceModel;
  /** Greedy ids after `prompt`, cut before the first end-of-generation token. */
  expected(prompt: number[], n: number): number[];
}

export async function referenceOracle(bytes: Uint8Array, nCtx: number): Promise<ReferenceOracle> {
  const tok = await Tokenizer.fromGGUF(await readGGUF(bytesSource(bytes)));
  const ref = await ReferenceModel.load(bytesSource(bytes), { numerics: 'ggml', nCtx });
  const expected = (prompt: number[], n: number) => {
    const ids = greedy(ref, prompt, n);
    const eog = ids.findIndex((id) => tok.isEog(id));
    return eog < 0 ? ids : ids.slice(0, eog);
  };
  return { tok, ref, expected };
}

/** A model served from a loopback server, loaded through the client API into a fresh EngineHost on
 *  a memory store, with the reference beside it; close() unloads and stops the server. */
export interface Loaded extends ReferenceOracle {
  llm: WebMoE;
  url: string;
  close(): Promise<void>;
}

/** `backend`: the WebGPU engine unless a test asks for another (auto picks WASM on SwiftShader). */
export async function serveAndLoad(bytes: Uint8Array, nCtx: number, backend: BackendChoice = 'webgpu'): Promise<Loaded> {
  const server = await startFaultServer();
  server.serve('/m.gguf', bytes);
  const url = server.url('/m.gguf');
  const oracle = await referenceOracle(bytes, nCtx);
  const llm = await WebMoE.load(url, { connect: connectTo(new EngineHost({ store: memoryStore() })), nCtx, backend });
  const close = async () => {
    await llm.unload();
    oracle.tok.dispose();
    await server.close();
  };
  return { ...oracle, llm, url, close };
}

/** Greedy generations of `texts` (n tokens at most), streamed chunk by chunk: the chunks' ids,
 *  the result's ids and the streamed text must be the CPU reference's. */
export async function expectGreedyStreams(llm: WebMoE, o: Pick<ReferenceOracle, 'tok' | 'expected'>, texts: string[], n: number): Promise<void> {
  for (const text of texts) {
    const prompt = [...o.tok.encode(text)];
    const want = o.expected(prompt, n);
    const gen = llm.generate(text, { temperature: 0, maxTokens: n });
    const ids: number[] = [];
    let streamed = '', chunks = 0;
    for await (const c of gen) {
      ids.push(...c.ids);
      streamed += c.text;
      chunks++;
    }
    const r = await gen.result;
    expect(r.promptIds).toEqual(prompt);
    expect(ids).toEqual(want);
    expect(r.ids).toEqual(want);
    expect(streamed).toBe(o.tok.decode(want));
    expect(r.text).toBe(streamed);
    expect(r.stop).toBe(want.length < n ? 'eog' : 'max-tokens');
    expect(chunks).toBeGreaterThanOrEqual(want.length);
    expect(r.decodeTokS).toBeGreaterThan(0);
  }
}

/** A greedy generation of "The" aborted once 6 tokens have streamed: its result, and how many
 *  tokens still arrived after the abort. */
export async function abortAfterSix(llm: WebMoE, maxTokens: number): Promise<{ r: GenerationResult; afterAbort: number }> {
  const ac = new AbortController();
  const gen = llm.generate('The', { temperature: 0, maxTokens, ignoreEos: true, signal: ac.signal });
  let seen = 0, afterAbort = 0;
  for await (const c of gen) {
    if (ac.signal.aborted) afterAbort += c.ids.length;
    seen += c.ids.length;
    if (seen === 6) ac.abort();
  }
  const r = await gen.result;
  expect(r.stop).toBe('aborted');
  return { r, afterAbort };
}
