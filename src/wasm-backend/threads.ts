// Threads for the WASM CPU backend: cpu-mt.wasm (the same C kernels built with atomics against a
// shared, imported memory; see wasm/build.mjs) instantiated once on the calling thread and once in
// each of n-1 workers (Node worker_threads, or Web Workers), all on one SharedArrayBuffer heap.
//
// Only the matrix products are split. The calling thread converts the inputs once
// (cpu_matmul_convert), publishes the job in a control block in the heap, computes its own slice
// of the rows (cpu_matmul_rows) while the workers compute theirs, and waits until every slice is
// done. Each row is one thread's whole dot product, so the result is bit for bit that of one
// thread. Everything else (norms, attention, routing) stays on the calling thread.
//
// Workers sleep in Atomics.wait on the control block's generation word between jobs; the caller
// wakes them with Atomics.notify and spins briefly, then sleeps, until the pending count is 0.
// Needs SharedArrayBuffer: in a browser, a cross-origin isolated page (COOP/COEP headers).
import { compileWasm, type WasmSource } from '../tokenizer/wasm.ts';

export type Ptr = number;

// Static, so that a bundler serves and emits the file where this module is bundled.
const MT_URL = new URL('../../wasm/build/cpu-mt.wasm', import.meta.url);

const PAGE = 65536;
const INITIAL_PAGES = 256; // 16 MiB, as cpu-mt.wasm declares (--initial-memory)
const MAX_PAGES = 65536; // 4 GiB (--max-memory)
const STACK_BYTES = 1 << 20; // per worker (the calling thread's is in the module's layout)

// Control block: Int32 words.
const GEN = 0, PENDING = 1, TYPE = 2, W = 3, ROWS = 4, COLS = 5, N = 6, Y = 7, SCRATCH = 8, PARTS = 9, STATUS = 10;
const CTL_WORDS = 16;
/** Status a worker reports when its call threw (a trap): not one of cpu.wasm's codes. */
export const WORKER_TRAP = -100;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Whether this context can share a WebAssembly memory between threads. */
export function threadsAvailable(): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && (globalThis.crossOriginIsolated ?? true);
}

/** Threads the engine worker gives the WASM backend: in a cross-origin isolated page one per
 *  logical core (at most 8: the products are memory-bound well before that), else 1; in Node 1
 *  (the CLI and WasmModel take an explicit count). */
export function defaultThreads(): number {
  if (isNode || !threadsAvailable()) return 1;
  const cores = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(8, cores));
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
  let gen = 0;
  for (;;) {
    Atomics.wait(c, ${GEN}, gen);
    gen = Atomics.load(c, ${GEN});
    const rows = c[${ROWS}], parts = c[${PARTS}];
    const r0 = Math.floor(rows * index / parts), r1 = Math.floor(rows * (index + 1) / parts);
    let st;
    try { st = x.cpu_matmul_rows(c[${TYPE}], c[${W}], r0, r1, rows, c[${COLS}], c[${N}], c[${Y}], c[${SCRATCH}]); } catch { st = ${WORKER_TRAP}; }
    if (st) Atomics.compareExchange(c, ${STATUS}, 0, st);
    if (Atomics.sub(c, ${PENDING}, 1) === 1) Atomics.notify(c, ${PENDING});
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

async function spawn(msg: unknown): Promise<AnyWorker> {
  if (isNode) {
    const wtName = 'node:worker_threads'; // hidden from bundlers: this branch only runs in Node
    const { Worker } = (await import(/* @vite-ignore */ wtName)) as typeof import('node:worker_threads');
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref(); // an idle pool does not keep the process alive
    return new Promise((resolve, reject) => {
      w.once('message', (r: { error?: string }) => (r.error ? reject(new Error(r.error)) : resolve(w)));
      w.once('error', reject);
      w.postMessage(msg);
    });
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url);
  URL.revokeObjectURL(url);
  return new Promise((resolve, reject) => {
    w.onmessage = (e: MessageEvent<{ error?: string }>) => (e.data.error ? reject(new Error(e.data.error)) : resolve(w));
    w.onerror = (e) => reject(new Error(e.message || 'worker failed to start'));
    w.postMessage(msg);
  });
}

/** cpu-mt.wasm on the calling thread plus n-1 workers on its shared heap. */
export class ThreadPool {
  private readonly ctl: Int32Array;
  private constructor(readonly exports: WebAssembly.Exports, readonly memory: WebAssembly.Memory,
    readonly threads: number, ctlPtr: Ptr, private readonly workers: AnyWorker[]) {
    this.ctl = new Int32Array(memory.buffer, ctlPtr, CTL_WORDS);
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
    try {
      for (let i = 1; i < threads; i++) {
        const stack = malloc(STACK_BYTES), tls = tlsSize ? malloc(tlsSize) : 0;
        if (!stack) throw new Error('no heap for a worker stack');
        workers.push(await spawn({ module, memory, ctl, index: i, stack: stack + STACK_BYTES, tls }));
      }
    } catch (e) {
      for (const w of workers) void w.terminate();
      throw e;
    }
    return new ThreadPool(x, memory, threads, ctl, workers);
  }

  /** Rows of y (n, rows) = W · the inputs already converted into scratch, split among the threads;
   *  rowsHere computes the calling thread's share. Returns the first nonzero status. */
  matmulRows(type: number, w: Ptr, rows: number, cols: number, n: number, y: Ptr, scratch: Ptr,
    rowsHere: (r0: number, r1: number) => number): number {
    const c = this.ctl, parts = this.threads;
    c[TYPE] = type; c[W] = w; c[ROWS] = rows; c[COLS] = cols; c[N] = n; c[Y] = y; c[SCRATCH] = scratch; c[PARTS] = parts;
    c[STATUS] = 0;
    Atomics.store(c, PENDING, parts - 1);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    const st = rowsHere(0, Math.floor(rows / parts));
    for (let spin = 0; Atomics.load(c, PENDING) !== 0; spin++) {
      if (spin > 20000 && canBlock) {
        const left = Atomics.load(c, PENDING);
        if (left) Atomics.wait(c, PENDING, left, 1000);
      }
    }
    return st || c[STATUS];
  }

  /** Stops the workers; the pool must not be used after. */
  close(): void {
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
