// Loads the standalone WebAssembly modules built by wasm/build.mjs, with the same code in Node
// (read from disk) and in a browser or worker (fetched from the URL the bundler gives the file).
// The modules import nothing but a memory-growth notification, so instantiation needs no glue.
import { TokenizerError } from './errors.ts';

export type WasmName = 'tokenizer' | 'sampler' | 'cpu' | 'cpu-mt';
/** Where to get a module: its bytes, a compiled module, or a URL/path to fetch or read. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | Uint8Array | URL | string;

// Static `new URL(..., import.meta.url)` so Vite serves the file in dev and emits it in builds.
// cpu.wasm (the WASM backend's kernels) has none here: src/wasm-backend/kernels.ts names its own
// URL, so that bundles without that backend do not carry the file.
const DEFAULT_URLS: Partial<Record<WasmName, URL>> = {
  tokenizer: new URL('../../wasm/build/tokenizer.wasm', import.meta.url),
  sampler: new URL('../../wasm/build/sampler.wasm', import.meta.url),
};

const isNode = typeof process !== 'undefined' && !!process.versions?.node;
const compiled = new Map<string, Promise<WebAssembly.Module>>();

async function readBytes(url: URL): Promise<ArrayBuffer | Uint8Array> {
  if (url.protocol === 'file:' && isNode) {
    // Hidden from bundlers: this branch only runs in Node.
    const fsName = 'node:fs/promises';
    const fs: typeof import('node:fs/promises') = await import(/* @vite-ignore */ fsName);
    return fs.readFile(url);
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.arrayBuffer();
}

/** The compiled module (cached per URL). */
export async function compileWasm(name: WasmName, source: WasmSource | undefined): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) return WebAssembly.compile(source as BufferSource);
  const fallback = DEFAULT_URLS[name];
  if (source === undefined && !fallback) throw new TokenizerError('wasm-unavailable', `${name}.wasm has no default location: pass its URL or bytes`);
  const url = source === undefined ? fallback! : source instanceof URL ? source : new URL(source, isNode ? `file://${process.cwd()}/` : globalThis.location?.href);
  const key = url.href;
  let p = compiled.get(key);
  if (!p) {
    p = readBytes(url).then((b) => WebAssembly.compile(b as BufferSource)).catch((e: unknown) => {
      compiled.delete(key);
      throw new TokenizerError('wasm-unavailable',
        `cannot load ${name}.wasm from ${url.href} (${(e as Error).message}); build it with \`npm run build:wasm\``);
    });
    compiled.set(key, p);
  }
  return p;
}

/** A fresh instance (own memory) of the named module. */
export async function instantiate(name: WasmName, source?: WasmSource): Promise<WebAssembly.Instance> {
  const module = await compileWasm(name, source);
  const instance = await WebAssembly.instantiate(module, {
    // Memory growth is seen through memory.buffer, which the wrappers re-read after every call.
    env: { emscripten_notify_memory_growth: () => {} },
  });
  (instance.exports._initialize as (() => void) | undefined)?.();
  return instance;
}

/** Typed views of a module's memory, re-created whenever the memory has grown. */
export class WasmMemory {
  private buf: ArrayBuffer | null = null;
  private _u8!: Uint8Array;
  private _i32!: Int32Array;
  private _f32!: Float32Array;
  private _dv!: DataView;
  constructor(private readonly memory: WebAssembly.Memory) {}
  private refresh() {
    if (this.buf !== this.memory.buffer) {
      this.buf = this.memory.buffer;
      this._u8 = new Uint8Array(this.buf);
      this._i32 = new Int32Array(this.buf);
      this._f32 = new Float32Array(this.buf);
      this._dv = new DataView(this.buf);
    }
  }
  get u8() { this.refresh(); return this._u8; }
  get i32() { this.refresh(); return this._i32; }
  get f32() { this.refresh(); return this._f32; }
  get dv() { this.refresh(); return this._dv; }
}
