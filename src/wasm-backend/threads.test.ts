// Threads in the WASM CPU backend: with 2 threads (cpu-mt.wasm on a shared heap, a worker_threads
// pool splitting each matrix product's rows) the greedy tokens and every logit equal those of one
// thread (cpu.wasm, which wasm-backend.test.ts checks against llama.cpp) bit for bit: each row's
// dot products are computed whole by one thread, so no sum changes order. Q8_0 factory models
// (256-wide): their matrices are past the size at which products are split, and the test checks
// that they were and that the worker computed some of the rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { COMMANDS, main } from '../cli/main.ts';
import type { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { readGGUF } from '../gguf/reader.ts';
import { planModel } from '../model/plan.ts';
import { WasmBackendError } from './kernels.ts';
import { threadsFor, weightBytesPerToken } from './threads.ts';
import { WasmModel } from './model.ts';

const PROMPT = [11, 250, 3, 97, 1000, 42, 7, 300, 12];
const N_TOKENS = 16;

interface Run { ids: number[]; logits: Float32Array[]; threaded: number; byWorkers: number }

/** Prompt (batches of 4, 4 and 1) then greedy decoding; the logits of every prompt token and
 *  of every step. */
async function run(bytes: Uint8Array, threads: number): Promise<Run> {
  const m = await WasmModel.load(bytesSource(bytes), { nCtx: 64, maxBatch: 4, threads });
  try {
    expect(m.threads).toBe(threads);
    const first = m.forward(PROMPT, { logits: 'all' });
    const logits = first.logits!.map((l) => l.slice());
    const ids = [first.next];
    for (let s = 1; s < N_TOKENS; s++) {
      const r = m.forward([ids[s - 1]], { logits: 'last' });
      logits.push(r.logits![0].slice());
      ids.push(r.next);
    }
    return { ids, logits, threaded: m.kernels.threadedProducts, byWorkers: m.kernels.chunksByWorkers };
  } finally {
    m.close();
  }
}

/** Positions where two logit vectors differ in any bit (NaNs of one payload alike). */
function bitDiffs(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++;
  return n;
}

const CASES = [
  { label: 'llama Q8_0 (dense)', arch: 'llama' },
  { label: 'qwen3moe Q8_0 (8 experts, top 2)', arch: 'qwen3moe' },
];

describe('WASM backend threads', () => {
  it.each(CASES)('$label: 2 threads give 1 thread\'s tokens and logits bit for bit', async ({ arch }) => {
    const bytes = makeModel({ arch, type: GGMLType.Q8_0, seed: 11 });
    const one = await run(bytes, 1), two = await run(bytes, 2);
    expect(one.threaded).toBe(0);
    expect(two.threaded).toBeGreaterThan(0);
    expect(two.byWorkers).toBeGreaterThan(0); // rows the worker computed, not only the caller
    expect(two.ids).toEqual(one.ids);
    expect(two.logits.length).toBe(PROMPT.length + N_TOKENS - 1);
    two.logits.forEach((l, i) => expect(bitDiffs(l, one.logits[i]), `logits ${i}`).toBe(0));
  }, 60_000);

  it('a worker that died between calls: the next call throws WasmBackendError thread-failed, and every later one', async () => {
    const m = await WasmModel.load(bytesSource(makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 11 })), { nCtx: 64, threads: 2 });
    try {
      m.forward(PROMPT);
      const w = m.kernels.pool!.workers[0] as Worker;
      const exited = new Promise((resolve) => w.once('exit', resolve));
      void w.terminate();
      await exited;
      for (let i = 0; i < 2; i++) expect(() => m.forward([5])).toThrow(expect.objectContaining({ name: 'WasmBackendError', code: 'thread-failed', message: expect.stringMatching(/worker thread 1 of the WASM backend exited/) }));
    } finally {
      m.close();
    }
  });

  it('a worker terminated mid-run, holding a chunk: the call in flight (had it died idle, the next) throws thread-failed, no hang; every later call too', async () => {
    // 1024 wide, a 32-token batch: a chunk of a product takes milliseconds. The calling
    // thread, at its own second chunk, waits until the worker holds one (chunks claimed minus
    // finished, words 1 and 2 of the pool's control block), then terminates it.
    const bytes = makeModel({ arch: 'llama', type: GGMLType.Q8_0, seed: 11, hp: { nLayer: 1, nEmbd: 1024, nHead: 8, nHeadKv: 4, headDim: 128, ropeDim: 128, nFf: 4096 } });
    const m = await WasmModel.load(bytesSource(bytes), { nCtx: 64, maxBatch: 32, threads: 2 });
    const pool = m.kernels.pool!;
    pool.stallMs = 500;
    const ctl = (pool as unknown as { ctl: Int32Array }).ctl;
    const x = m.kernels.x;
    let calls = 0;
    (m.kernels as { x: typeof x }).x = { ...x, cpu_matmul_rows: (...a: Parameters<typeof x.cpu_matmul_rows>) => {
      if (++calls === 2) {
        const t = performance.now();
        while ((Atomics.load(ctl, 1) & 0xff) - Atomics.load(ctl, 2) < 2 && performance.now() - t < 200);
        void pool.workers[0].terminate();
      }
      return x.cpu_matmul_rows(...a);
    } };
    const prompt = Array.from({ length: 32 }, (_, i) => (i * 37) % 1000);
    const t0 = performance.now();
    let inFlight: unknown;
    try {
      m.forward(prompt);
    } catch (e) {
      inFlight = e;
    }
    const ms = performance.now() - t0;
    try {
      await new Promise((r) => setTimeout(r, 50)); // the worker's 'exit' event arrives
      let next: unknown;
      try { m.forward([5]); } catch (e) { next = e; }
      const failed = inFlight ?? next;
      console.log('threads: worker terminated mid-run:', JSON.stringify({ threwInFlight: inFlight !== undefined, ms: Math.round(ms), failure: pool.failure }));
      // the worker may, rarely, die before claiming a chunk: then the caller computes them all and
      // the death is seen (its 'exit' event) by the next call
      expect(failed).toMatchObject({ name: 'WasmBackendError', code: 'thread-failed' });
      expect(ms).toBeLessThan(30_000);
      expect(() => m.forward([6])).toThrow(expect.objectContaining({ code: 'thread-failed' }));
    } finally {
      m.close();
    }
  }, 60_000);

  it('refuses a thread count that is not a positive integer', async () => {
    const bytes = makeModel({ arch: 'llama', type: GGMLType.Q8_0, seed: 11 });
    for (const threads of [0, 1.5, -2]) {
      await expect(WasmModel.load(bytesSource(bytes), { threads })).rejects.toThrow(WasmBackendError);
    }
  });
});

describe('thread count by model size (the browser\'s rule)', () => {
  const perToken = async (bytes: Uint8Array) => weightBytesPerToken(planModel(await readGGUF(bytesSource(bytes))));
  it('one thread below 4 MB read per token (the default tiny MoE), one per core above', async () => {
    // the default model: tied head (the whole embedding table is read), top-2 of its experts
    const tiny = await perToken(new Uint8Array(readFileSync('public/models/webmoe-tiny-moe.q8_0.gguf')));
    expect(tiny / 1e6).toBeCloseTo(1.64, 2);
    expect(threadsFor(tiny, 2)).toBe(1);
    // qwen3moe 384 wide, 4 layers, Q8_0: 18 MB, of which a token reads attention, router, head and
    // 2 of 8 experts (its own embedding row only)
    const moe = makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 1, hp: { nEmbd: 384, nHead: 6, nHeadKv: 3, headDim: 64, nFf: 384, nFfExp: 384, nLayer: 4 } });
    const bytes = await perToken(moe);
    expect(bytes / 1e6).toBeCloseTo(6.22, 2);
    expect(threadsFor(bytes, 2)).toBe(2);
    expect(threadsFor(bytes, 64)).toBe(8);
  });
});

describe('webmoe generate --backend wasm --threads', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'webmoe-threads-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--threads 2 reports 2 threads and generates --threads 1\'s ids', async () => {
    const path = join(dir, 'moe.gguf');
    writeFileSync(path, makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 5 }));
    const gen = async (threads: string) => {
      let out = '', err = '';
      const code = await main(['generate', '--model', path, '--prompt-ids', PROMPT.join(','), '--max-tokens', '12', '--ignore-eos',
        '--backend', 'wasm', '--threads', threads, '--json'], { out: (s) => { out += s; }, err: (s) => { err += s; } }, COMMANDS);
      expect(err).toBe('');
      expect(code).toBe(0);
      return JSON.parse(out) as { ids: number[]; threads: number };
    };
    const one = await gen('1'), two = await gen('2');
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(one.ids.length).toBe(12);
    expect(two.ids).toEqual(one.ids);
  }, 60_000);

  it('refuses --threads without --backend wasm, and a bad count', async () => {
    for (const argv of [['--threads', '2'], ['--backend', 'wasm', '--threads', '0']]) {
      let err = '';
      const code = await main(['generate', '--model', join(dir, 'none.gguf'), '--prompt-ids', '1', ...argv], { out: () => {}, err: (s) => { err += s; } }, COMMANDS);
      expect(code).not.toBe(0);
      expect(err).toMatch(/--threads/);
    }
  });
});
