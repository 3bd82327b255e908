// Threads for the WASM CPU backend: cpu-mt.wasm (the same C kernels built with atomics against a
// shared, imported memory; see wasm/build.mjs) instantiated once on the calling thread and once in
// each of n-1 workers (Node worker_threads, or Web Workers), all on one SharedArrayBuffer heap.
//
// Only the matrix products are split. The calling thread converts the inputs once
// (cpu_matmul_convert), publishes the job in a control block in the heap, and every thread, the
// caller included, takes chunks of rows (cpu_matmul_rows) until none is left; the caller then
// waits until every chunk is done. Each row is one thread's whole dot product, so the result is
// bit for bit that of one thread, whoever takes which chunk. Taking chunks rather than fixed
// slices means a worker the OS has not scheduled yet (a busy machine) does not hold the caller
// up: the caller takes its chunks too. Everything else (norms, attention, routing) stays on the
// calling thread.
//
// Workers sleep in Atomics.wait on the control block's generation word between jobs; the caller
// wakes them with Atomics.notify. A chunk is claimed by compare-and-swap on a word that holds the
// job's generation beside the next chunk's index, so a worker that wakes late can never claim a
// chunk of a later job with the parameters of an earlier one.
// Needs SharedArrayBuffer: in a browser, a cross-origin isolated page (COOP/COEP headers).
//
// A worker that dies (terminated, crashed, out of memory) cannot say so through the heap, and the
// calling thread, blocked in a synchronous call, cannot receive its 'exit' or 'error' event. So:
// a death seen between calls (the event has arrived) fails the next call at once; a death while
// the caller waits for a chunk the dead worker had claimed shows as no chunk finishing for
// stallMs (30 s: chunks take milliseconds), which fails that call. Either way the call returns
// WORKER_DIED (kernels.ts throws WasmBackendError 'thread-failed'), the workers are stopped, and
// every later call fails the same way: the model is clearly failed (its KV cache may be half
// written), never silently wrong or hung. Load it again.
import type { ModelPlan } from '../model/plan.ts';
import { compileWasm, type WasmSource } from '../tokenizer/wasm.ts';

export type Ptr = number;

// Static, so that a bundler serves and emits the file where this module is bundled.
const MT_URL = new URL('../../wasm/build/cpu-mt.wasm', import.meta.url);

const PAGE = 65536;
const INITIAL_PAGES = 256; // 16 MiB, as cpu-mt.wasm declares (--initial-memory)
const MAX_PAGES = 65536; // 4 GiB (--max-memory)
const STACK_BYTES = 1 << 20; // per worker (the calling thread's is in the module's layout)

// Control block: Int32 words. NEXT = (generation & GEN_MASK) << 8 | next chunk index.
const GEN = 0, NEXT = 1, FINISHED = 2, TYPE = 3, W = 4, ROWS = 5, COLS = 6, N = 7, Y = 8, SCRATCH = 9, CHUNK_ROWS = 10, CHUNKS = 11, STATUS = 12, BY_WORKERS = 13;
const CTL_WORDS = 16;
const GEN_MASK = 0x7fffff;
/** Chunks per thread: enough that a late or slow thread's share is taken by the others. */
const CHUNKS_PER_THREAD = 4;
/** Status a worker reports when its call threw (a trap): not one of cpu.wasm's codes. */
export const WORKER_TRAP = -100;
/** Status of every call once a worker has died or stalled (ThreadPool.failure says which). */
export const WORKER_DIED = -101;
/** A wait in which no chunk finishes for this long means the chunk's worker is dead. */
const STALL_MS = 30_000;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Whether this context can share a WebAssembly memory between threads. */
export function threadsAvailable(): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && (globalThis.crossOriginIsolated ?? true);
}

/** Below this many weight bytes read per token a model runs on one thread. Measured on this
 *  2-core machine (shared, load average 11-15), decode tok/s of 2 threads over 1, one process
 *  alternating a 1- and a 2-thread model of the same file (16-token prompt, 8 decoded tokens,
 *  8-16 rounds, medians; factory llama and qwen3moe Q8_0, 4 layers, 256-1024 wide; the default
 *  model; the engine bench's models; 2026-12-05 08:25 UTC (README's table) and 11:00-11:25,
 *  `npm run bench -- wasm-threads-size`), by MB read per token, separate runs:
 *    1.6 (default tiny MoE) 0.79 0.84 0.98 0.85 | 2.9 (llama) 0.62 0.25 0.64 0.61 | 2.9 (MoE) 0.89 0.54
 *    6.2 (llama) 2.43 1.00 0.87 | 6.2 (MoE) 1.63 0.59 | 10.7 (llama) 2.05 0.85 1.58 | 10.8 (MoE) 0.91 0.72
 *    16.6 1.61 | 23.6 1.32 1.72 1.00 | 23.7 (MoE) 0.86 | 34 (MoE Q4_K bench) 1.77 1.66 1.19 | 41 1.14
 *    97 (dense Q8_0 bench) 1.31 2.49 0.99
 *  Below 4 MB 2 threads were slower in 10 runs of 10 (a wake-up of the workers per split product
 *  costs more than half the product saves); above, faster in 13 of 22 (median 1.19x, 0.59-2.49:
 *  the gain there depends on how busy the cores are). */
export const THREADS_MIN_BYTES_PER_TOKEN = 4e6;

/** Weight bytes one token reads: every tensor but the embedding table (one row of it; the whole
 *  table when it is the head too), routed experts in the share the router picks. */
export function weightBytesPerToken(plan: ModelPlan): number {
  const { nExpert, nExpertUsed } = plan.hp;
  let bytes = 0;
  for (const t of plan.tensors) {
    if (t === plan.embd && !plan.tied) continue;
    bytes += plan.expertTensors.has(t) ? (t.nBytes * nExpertUsed) / nExpert : t.nBytes;
  }
  return bytes;
}

/** Threads for a model reading `bytesPerToken` per token: one per logical core (capped at 8;
 *  only 2 cores were ever measured), but 1 below THREADS_MIN_BYTES_PER_TOKEN. */
export function threadsFor(bytesPerToken: number, cores: number): number {
  return bytesPerToken < THREADS_MIN_BYTES_PER_TOKEN ? 1 : Math.max(1, Math.min(8, cores));
}

/** Threads the engine worker gives the WASM backend for a model: threadsFor in a cross-origin
 *  isolated page, else 1; in Node 1 (the CLI and WasmModel take an explicit count). */
export function defaultThreads(plan: ModelPlan): number {
  if (isNode || !threadsAvailable()) return 1;
  const cores = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1;
  return threadsFor(weightBytesPerToken(plan), cores);
}

/** The imports of cpu-mt.wasm: emscripten's libc for threads asks for these few functions (the
 *  allocator's heap growth, clocks, the main thread's registration). */
function imports(memory: WebAssembly.Memory, exports: () => WebAssembly.Exports | undefined) {
  return {
    env: {
      memory,
      // sbrk past the heap's end: grow the shared memory to `bytes` (1 = done, 0 = cannot).
      emscripten_resize_heap: (bytes: number) => {
        const want = Math.ceil((bytes >>> 0) / PAGE), have = memory.buffer.byteLength / PAGE;
        if (want <= have) return 1;
        try { memory.grow(want - have); return 1; } catch { return 0; }
      },
      emscripten_get_now: () => performance.now(),
      __clock_gettime: () => 28, // EINVAL: no clock_gettime (the kernels never ask)
      // libc registers the calling thread's pthread block: tell it the thread may block.
      __emscripten_init_main_thread_js: (tb: number) => {
        (exports()?._emscripten_thread_init as ((tb: number, a: number, b: number, c: number) => void) | undefined)?.(tb, 1, 1, 1);
      },
      emscripten_unwind_to_js_event_loop: () => { throw new Error('cpu-mt.wasm: unwind to the event loop'); },
    },
  };
}

/** Claims chunks of job `gen` and computes them with `rows` until none is left (on every thread:
 *  the workers run this function's source). A failed chunk's status goes into STATUS; every
 *  claimed chunk counts as finished, so the caller never waits for ever. Literal word indices:
 *  the function runs in the workers as its own source text. */
function takeChunks(c: Int32Array, gen: number, rows: (r0: number, r1: number) => number, worker: boolean): void {
  for (;;) {
    const v = Atomics.load(c, 1 /* NEXT */);
    if (v >>> 8 !== gen) return; // a later job has started: its caller hands it out
    const k = v & 0xff;
    if (k >= Atomics.load(c, 11 /* CHUNKS */)) return;
    if (Atomics.compareExchange(c, 1, v, v + 1) !== v) continue;
    // claimed: the job cannot end before this chunk is done, so its parameters are current
    const chunkRows = c[10 /* CHUNK_ROWS */], r0 = k * chunkRows, r1 = Math.min(c[5 /* ROWS */], r0 + chunkRows);
    let st: number;
    try { st = rows(r0, r1); } catch { st = -100 /* WORKER_TRAP */; }
    if (st) Atomics.compareExchange(c, 12 /* STATUS */, 0, st);
    if (worker) Atomics.add(c, 13 /* BY_WORKERS */, 1);
    if (Atomics.add(c, 2 /* FINISHED */, 1) + 1 === c[11]) Atomics.notify(c, 2);
  }
}

/** A worker's whole program (a classic script: Node's eval worker and a Blob Web Worker run it as
 *  is). It instantiates the module on the shared memory with its own stack, says ready, then
 *  loops on the control block. */
const WORKER_SOURCE = `
const main = (msg, post) => {
  const { module, memory, ctl, index, stack, tls } = msg;
  const noop = () => 0;
  const env = { memory, emscripten_resize_heap: noop, emscripten_get_now: () => performance.now(), __clock_gettime: () => 28,
    __emscripten_init_main_thread_js: noop, emscripten_unwind_to_js_event_loop: noop };
  let x;
  try {
    x = new WebAssembly.Instance(module, { env }).exports;
    x.__stack_pointer.value = stack;
    if (tls) x.__wasm_init_tls(tls);
  } catch (e) { post({ error: String(e && e.message || e) }); return; }
  post({ ready: true });
  const c = new Int32Array(memory.buffer, ctl, ${CTL_WORDS});
  const rows = (r0, r1) => x.cpu_matmul_rows(c[${TYPE}], c[${W}], r0, r1, c[${ROWS}], c[${COLS}], c[${N}], c[${Y}], c[${SCRATCH}]);
  let gen = 0;
  for (;;) {
    Atomics.wait(c, ${GEN}, gen);
    gen = Atomics.load(c, ${GEN});
    (${takeChunks.toString()})(c, gen, rows, true);
  }
};
if (typeof self === 'undefined') {
  const { parentPort } = require('node:worker_threads');
  parentPort.once('message', (m) => main(m, (r) => parentPort.postMessage(r)));
} else {
  self.onmessage = (e) => main(e.data, (r) => self.postMessage(r));
}
`;

interface AnyWorker { postMessage(m: unknown): void; terminate(): unknown }

// A browser page's own thread may not block in Atomics.wait: it only spins.
const canBlock = isNode || typeof document === 'undefined';

/** Starts a worker; after it is ready, onDeath hears of its end (Node: 'exit' and 'error';
 *  a browser fires 'error' only, and nothing when it kills a worker). */
async function spawn(msg: unknown, onDeath: (how: string) => void): Promise<AnyWorker> {
  if (isNode) {
    const wtName = 'node:worker_threads'; // hidden from bundlers: this branch only runs in Node
    const { Worker } = (await import(/* @vite-ignore */ wtName)) as typeof import('node:worker_threads');
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref(); // an idle pool does not keep the process alive
    return new Promise((resolve, reject) => {
      w.once('message', (r: { error?: string }) => {
        if (r.error) return reject(new Error(r.error));
        w.on('error', (e: Error) => onDeath(`failed: ${e.message}`));
        w.once('exit', (code) => onDeath(`exited (code ${code})`));
        resolve(w);
      });
      w.once('error', reject);
      w.postMessage(msg);
    });
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url);
  URL.revokeObjectURL(url);
  return new Promise((resolve, reject) => {
    w.onmessage = (e: MessageEvent<{ error?: string }>) => {
      if (e.data.error) return reject(new Error(e.data.error));
      w.onerror = (ev) => onDeath(`failed: ${ev.message || 'an error'}`);
      resolve(w);
    };
    w.onerror = (e) => reject(new Error(e.message || 'worker failed to start'));
    w.postMessage(msg);
  });
}

/** cpu-mt.wasm on the calling thread plus n-1 workers on its shared heap. */
export class ThreadPool {
  private readonly ctl: Int32Array;
  /** Why the pool can no longer run products (a worker died or stalled, or close()); then every
   *  call returns WORKER_DIED. */
  failure?: string;
  /** How long a wait may see no chunk finish before the pool is declared failed, ms. */
  stallMs = STALL_MS;
  private constructor(readonly exports: WebAssembly.Exports, readonly memory: WebAssembly.Memory,
    readonly threads: number, ctlPtr: Ptr, /** Node Workers or Web Workers, as started. */ readonly workers: AnyWorker[]) {
    this.ctl = new Int32Array(memory.buffer, ctlPtr, CTL_WORDS);
  }

  /** Marks the pool failed (the first reason stays) and stops the workers. */
  private fail(why: string): void {
    this.failure ??= why;
    for (const w of this.workers) void w.terminate();
  }

  /** Instantiates cpu-mt.wasm here (its exports serve as cpu.wasm's) and in threads-1 workers. */
  static async create(threads: number, wasm: WasmSource = MT_URL): Promise<ThreadPool> {
    const module = await compileWasm('cpu-mt', wasm);
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared: true });
    let x: WebAssembly.Exports | undefined;
    const instance = await WebAssembly.instantiate(module, imports(memory, () => x));
    x = instance.exports;
    (x.__wasm_call_ctors as () => void)();
    const malloc = x.wm_malloc as (n: number) => Ptr;
    const ctl = malloc(CTL_WORDS * 4);
    new Int32Array(memory.buffer, ctl, CTL_WORDS).fill(0);
    const tlsSize = (x.__tls_size as WebAssembly.Global | undefined)?.value as number | undefined;
    const workers: AnyWorker[] = [];
    let pool: ThreadPool | undefined;
    const deaths: string[] = [];
    const onDeath = (i: number) => (how: string) => {
      const why = `worker thread ${i} of the WASM backend ${how}`;
      if (pool) pool.fail(why); else deaths.push(why);
    };
    try {
      for (let i = 1; i < threads; i++) {
        const stack = malloc(STACK_BYTES), tls = tlsSize ? malloc(tlsSize) : 0;
        if (!stack) throw new Error('no heap for a worker stack');
        workers.push(await spawn({ module, memory, ctl, index: i, stack: stack + STACK_BYTES, tls }, onDeath(i)));
      }
      if (deaths.length) throw new Error(deaths[0]);
    } catch (e) {
      for (const w of workers) void w.terminate();
      throw e;
    }
    return (pool = new ThreadPool(x, memory, threads, ctl, workers));
  }

  /** Rows of y (n, rows) = W · the inputs already converted into scratch, in chunks taken by all
   *  the threads; rowsHere computes a chunk on the calling thread. Returns the first nonzero
   *  status: WORKER_DIED if a worker has died, or a chunk never finished (see the header). */
  matmulRows(type: number, w: Ptr, rows: number, cols: number, n: number, y: Ptr, scratch: Ptr,
    rowsHere: (r0: number, r1: number) => number): number {
    if (this.failure) return WORKER_DIED;
    const c = this.ctl;
    const chunkRows = Math.ceil(rows / Math.min(0xff, this.threads * CHUNKS_PER_THREAD)), chunks = Math.ceil(rows / chunkRows);
    const gen = (Atomics.load(c, GEN) + 1) & GEN_MASK;
    c[TYPE] = type; c[W] = w; c[ROWS] = rows; c[COLS] = cols; c[N] = n; c[Y] = y; c[SCRATCH] = scratch;
    c[CHUNK_ROWS] = chunkRows; c[CHUNKS] = chunks; c[STATUS] = 0;
    Atomics.store(c, FINISHED, 0);
    Atomics.store(c, NEXT, gen << 8);
    Atomics.store(c, GEN, gen);
    Atomics.notify(c, GEN);
    takeChunks(c, gen, rowsHere, false);
    let seen = -1, since = 0;
    for (let spin = 0; ; spin++) {
      const done = Atomics.load(c, FINISHED);
      if (done === chunks) break;
      if (spin > 2000) {
        const now = performance.now();
        if (done !== seen) { seen = done; since = now; }
        else if (now - since > this.stallMs) {
          this.fail(`a worker thread of the WASM backend finished no chunk of a product for ${Math.round(now - since)} ms: it died or hangs`);
          return WORKER_DIED;
        }
        if (canBlock) Atomics.wait(c, FINISHED, done, Math.min(1000, this.stallMs));
      }
    }
    return c[STATUS];
  }

  /** Chunks of rows the workers (not the calling thread) have computed so far. */
  get chunksByWorkers(): number {
    return Atomics.load(this.ctl, BY_WORKERS);
  }

  /** Stops the workers; later calls return WORKER_DIED. */
  close(): void {
    this.fail('the pool was closed');
  }
}
