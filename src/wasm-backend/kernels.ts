// Typed wrapper of cpu.wasm (wasm/src/cpu): the CPU backend's kernels over one WebAssembly heap
// (wasm32, grows on demand up to 4 GiB). Pointers are byte offsets into that heap; every f32
// array passed to a kernel lives there, placed by alloc().
import { GGMLType, typeName } from '../gguf/types.ts';
import { instantiate, WasmMemory, type WasmSource } from '../tokenizer/wasm.ts';
import { ThreadPool, threadsAvailable, WORKER_DIED, WORKER_TRAP } from './threads.ts';

export type Ptr = number;

// Static, so that a bundler serves and emits the file where this module is bundled (only there).
const DEFAULT_URL = new URL('../../wasm/build/cpu.wasm', import.meta.url);

interface Exports {
  memory: WebAssembly.Memory;
  wm_malloc(n: number): Ptr;
  wm_free(p: Ptr): void;
  cpu_row_bytes(type: number, cols: number): number;
  cpu_scratch_bytes(type: number, cols: number, n: number): number;
  cpu_matmul(type: number, w: Ptr, rows: number, cols: number, x: Ptr, n: number, y: Ptr, scratch: Ptr): number;
  cpu_matmul_convert(type: number, cols: number, x: Ptr, n: number, scratch: Ptr): number;
  cpu_matmul_rows(type: number, w: Ptr, r0: number, r1: number, rows: number, cols: number, n: number, y: Ptr, scratch: Ptr): number;
  cpu_rms_norm(x: Ptr, w: Ptr, y: Ptr, n: number, len: number, eps: number): void;
  cpu_rope_cache(cs: Ptr, pos: number, nDims: number, base: number, freqScale: number, extFactor: number, attnFactor: number,
    corrLo: number, corrHi: number, freqFactors: Ptr): void;
  cpu_rope(x: Ptr, nHeads: number, headDim: number, nDims: number, cs: Ptr, mode: number): void;
  cpu_softmax(x: Ptr, y: Ptr, n: number, scale: number): void;
  cpu_swiglu(gate: Ptr, up: Ptr, y: Ptr, n: number, len: number): void;
  cpu_silu(x: Ptr, y: Ptr, n: number): void;
  cpu_swiglu_oai(gate: Ptr, up: Ptr, y: Ptr, n: number): void;
  cpu_geglu(gate: Ptr, up: Ptr, y: Ptr, n: number): number;
  cpu_attend(q: Ptr, kc: Ptr, vc: Ptr, nKv: number, first: number, nHead: number, nHeadKv: number, headDim: number,
    kqScale: number, softcap: number, capScale: number, sinks: Ptr, out: Ptr, scratch: Ptr): void;
  cpu_add(a: Ptr, b: Ptr, y: Ptr, n: number): void;
  cpu_scale(a: Ptr, s: number, y: Ptr, n: number): void;
}

/** The weight types cpu.wasm has dot products for: every type the WebGPU engine runs. */
export const WASM_TYPES: readonly GGMLType[] = [
  GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1,
  GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_K,
  GGMLType.Q6_K, GGMLType.IQ4_NL, GGMLType.IQ4_XS, GGMLType.MXFP4,
];

/** A failure of the WASM backend: `code` says which. */
export class WasmBackendError extends Error {
  override name = 'WasmBackendError';
  constructor(readonly code: 'out-of-memory' | 'bad-argument' | 'unsupported-type' | 'unsupported-model' | 'unsupported-option' | 'threads-unavailable' | 'thread-failed', message: string) {
    super(message);
  }
}

const STATUS: Record<number, WasmBackendError['code']> = { [-1]: 'out-of-memory', [-2]: 'bad-argument', [-3]: 'unsupported-type' };

/** Below this many weight bytes a matrix product stays on one thread: waking the others would
 *  cost more than its rows (the result is the same either way). */
const THREADED_MIN_BYTES = 64 << 10;

export interface CpuKernelsOptions {
  /** Threads for the matrix products (default 1). Above 1: cpu-mt.wasm on a shared heap, which
   *  needs SharedArrayBuffer (a cross-origin isolated page in a browser). */
  threads?: number;
  /** cpu-mt.wasm itself, or where to find it (default: wasm/build/cpu-mt.wasm). */
  wasmThreads?: WasmSource;
}

export class CpuKernels {
  readonly mem: WasmMemory;
  /** Bytes allocated through alloc() and not freed. */
  allocated = 0;
  /** Matrix products split among the threads so far (the others ran on the calling thread). */
  threadedProducts = 0;
  private constructor(readonly x: Exports, memory: WebAssembly.Memory, /** The worker threads, if more than one. */ readonly pool?: ThreadPool) {
    this.mem = new WasmMemory(memory);
  }

  static async create(wasm: WasmSource = DEFAULT_URL, opts: CpuKernelsOptions = {}): Promise<CpuKernels> {
    const threads = opts.threads ?? 1;
    if (!(Number.isInteger(threads) && threads >= 1)) throw new WasmBackendError('unsupported-option', `threads must be a positive integer, got ${threads}`);
    if (threads === 1) {
      const x = (await instantiate('cpu', wasm)).exports as unknown as Exports;
      return new CpuKernels(x, x.memory);
    }
    if (!threadsAvailable()) throw new WasmBackendError('threads-unavailable', `${threads} threads need SharedArrayBuffer, which a browser gives only to a cross-origin isolated page (COOP: same-origin, COEP: require-corp); use threads: 1`);
    let pool: ThreadPool;
    try {
      pool = await ThreadPool.create(threads, opts.wasmThreads);
    } catch (e) {
      throw new WasmBackendError('threads-unavailable', `cannot start ${threads - 1} worker thread(s) for the WASM backend: ${(e as Error).message}`);
    }
    return new CpuKernels(pool.exports as unknown as Exports, pool.memory, pool);
  }

  /** Threads that share the matrix products. */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Chunks of matrix rows computed by worker threads so far (0 on one thread). */
  get chunksByWorkers(): number {
    return this.pool?.chunksByWorkers ?? 0;
  }

  /** Stops the worker threads (if any); the kernels must not be used after. */
  close(): void {
    this.pool?.close();
  }

  /** `bytes` of heap (16-byte aligned, as malloc gives); throws when the 4 GiB heap is full. */
  alloc(bytes: number, what: string): Ptr {
    const p = this.x.wm_malloc(bytes) >>> 0; // (an i32 from wasm: above 2 GiB it reads negative)
    if (!p) throw new WasmBackendError('out-of-memory', `cannot allocate ${bytes} bytes for ${what} in the WebAssembly heap (${this.allocated} bytes in use; wasm32 holds 4 GiB at most)`);
    this.allocated += bytes;
    return p;
  }

  /** Copies bytes into a new allocation. */
  put(bytes: Uint8Array, what: string): Ptr {
    const p = this.alloc(bytes.length, what);
    this.mem.u8.set(bytes, p);
    return p;
  }

  /** A view of n f32 values at p (invalid once the heap grows: use it at once). */
  f32(p: Ptr, n: number): Float32Array {
    return this.mem.f32.subarray(p >>> 2, (p >>> 2) + n);
  }

  rowBytes(type: GGMLType, cols: number, what: string): number {
    const b = this.x.cpu_row_bytes(type, cols);
    if (!b) {
      if (!WASM_TYPES.includes(type)) throw new WasmBackendError('unsupported-type', `${what} is ${typeName(type)}; the WASM backend runs ${WASM_TYPES.map(typeName).join(', ')}`);
      throw new WasmBackendError('bad-argument', `${what}: rows of ${cols} values are not whole ${typeName(type)} blocks`);
    }
    return b;
  }

  /** y (n, rows) = W (rows, cols) · x (n, cols); scratch holds scratchBytes(type, cols, n). */
  matmul(type: GGMLType, w: Ptr, rows: number, cols: number, x: Ptr, n: number, y: Ptr, scratch: Ptr): void {
    const X = this.x;
    let st: number;
    if (!this.pool || rows < 2 * this.pool.threads || X.cpu_row_bytes(type, cols) * rows < THREADED_MIN_BYTES) {
      st = X.cpu_matmul(type, w, rows, cols, x, n, y, scratch);
    } else {
      this.threadedProducts++;
      st = X.cpu_matmul_convert(type, cols, x, n, scratch) ||
        this.pool.matmulRows(type, w, rows, cols, n, y, scratch, (r0, r1) => X.cpu_matmul_rows(type, w, r0, r1, rows, cols, n, y, scratch));
    }
    if (st === WORKER_DIED) throw new WasmBackendError('thread-failed', `${this.pool!.failure}: this model cannot go on (its KV cache may be half written); load it again (threads: 1 runs without workers)`);
    if (st) throw new WasmBackendError(STATUS[st] ?? 'bad-argument', `matmul of a ${typeName(type)} (${rows} x ${cols}) weight failed (${st === WORKER_TRAP ? 'a worker thread trapped' : `status ${st}`})`);
  }

  scratchBytes(type: GGMLType, cols: number, n: number): number {
    return this.x.cpu_scratch_bytes(type, cols, n);
  }
}
