// Compute kernels: WGSL sources (real .wgsl files, concatenated in a fixed order when a kernel uses
// shared helpers), an entry point and `override` constants. Everything the GPU object depends on
// goes into its key, in a fixed order, and the key is also the object's label, so a validation
// error or a profile names the exact variant. Bind group layouts come from the WGSL declarations
// themselves (`@group(0) @binding(n) var<storage, read> name: ...`), and ops bind buffers by name.
import { ParamsLayout } from './params.ts';

export interface KernelSource {
  /** File name for keys and labels, e.g. 'matvec.wgsl'. */
  name: string;
  text: string;
}

export interface KernelSpec {
  /** Shared helpers first, the kernel's own file last. */
  sources: readonly KernelSource[];
  entry: string;
  /** Values of the shader's `override` constants (numbers; booleans as 0/1). */
  overrides?: Readonly<Record<string, number>>;
}

export type BindingKind = 'uniform' | 'storage' | 'read-only-storage';

export interface BindingDecl {
  binding: number;
  name: string;
  kind: BindingKind;
}

export class KernelCompileError extends Error {
  override name = 'KernelCompileError';
  constructor(readonly key: string, message: string, options?: { cause?: unknown }) {
    super(`kernel ${key}: ${message}`, options);
  }
}

/** The key (and label) of a kernel variant: entry, files, then overrides sorted by name. */
export function kernelKey(spec: KernelSpec): string {
  const files = spec.sources.map((s) => s.name.replace(/\.wgsl$/, '')).join('+');
  const o = Object.entries(spec.overrides ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${files}:${spec.entry}` + (o.length ? `{${o.map(([k, v]) => `${k}=${v}`).join(',')}}` : '');
}

/** The group-0 bindings a WGSL source declares. */
export function parseBindings(wgsl: string): BindingDecl[] {
  const out: BindingDecl[] = [];
  const re = /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var(?:<\s*(\w+)\s*(?:,\s*(\w+)\s*)?>)?\s+(\w+)/g;
  for (let m; (m = re.exec(wgsl)); ) {
    const space = m[2], access = m[3] ?? 'read';
    const kind: BindingKind = space === 'uniform' ? 'uniform' : access === 'read_write' ? 'storage' : 'read-only-storage';
    if (space !== 'uniform' && space !== 'storage') throw new Error(`binding ${m[4]}: address space ${space} is not supported`);
    out.push({ binding: Number(m[1]), name: m[4], kind });
  }
  return out.sort((a, b) => a.binding - b.binding);
}

export interface Kernel {
  key: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  bindings: readonly BindingDecl[];
  /** Packer for `struct Params`, when the source declares one. */
  params?: ParamsLayout;
}

export interface PipelineCacheOptions {
  /** Print every pipeline's WGSL (with its key) when it is first built. */
  dumpShaders?: boolean;
}

/** Pipelines by derived key; each variant is compiled once per device. Inside `concurrently`,
 *  get() hands out a kernel as soon as its layout exists and its pipeline is being compiled
 *  (createComputePipelineAsync), so the compiles of a whole graph run at the same time instead of
 *  one after another; the call returns once every one of them has finished. */
export class PipelineCache {
  private readonly kernels = new Map<string, { kernel: Kernel; compiled: Promise<void> }>();
  private deferring = 0;

  constructor(private readonly device: GPUDevice, private readonly opts: PipelineCacheOptions = {}) {}

  get size(): number {
    return this.kernels.size;
  }

  async get(spec: KernelSpec): Promise<Kernel> {
    const key = kernelKey(spec);
    let k = this.kernels.get(key);
    if (!k) {
      k = this.build(key, spec);
      this.kernels.set(key, k);
    }
    if (!this.deferring) await k.compiled;
    return k.kernel;
  }

  /** Runs `build` (which makes ops: their kernels come back before their pipelines are compiled,
   *  and must not run before this returns), then waits for every pipeline being compiled. */
  async concurrently<T>(build: () => Promise<T>): Promise<T> {
    this.deferring++;
    let out: T;
    try {
      out = await build();
    } finally {
      this.deferring--;
    }
    await Promise.all([...this.kernels.values()].map((k) => k.compiled));
    return out;
  }

  private build(key: string, spec: KernelSpec): { kernel: Kernel; compiled: Promise<void> } {
    const code = spec.sources.map((s) => `// ---- ${s.name}\n${s.text}`).join('\n');
    if (this.opts.dumpShaders) console.log(`// ==== WGSL of ${key}\n${code}`);
    const bindings = parseBindings(code);
    const layout = this.device.createBindGroupLayout({
      label: key,
      entries: bindings.map((b) => ({ binding: b.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: b.kind } })),
    });
    const module = this.device.createShaderModule({ label: key, code });
    const params = /struct\s+Params\s*\{/.test(code) ? ParamsLayout.fromWGSL(code, key) : undefined;
    // the pipeline is set when its compile finishes (get() waits for it outside `concurrently`)
    const kernel: Kernel = { key, pipeline: undefined as unknown as GPUComputePipeline, layout, bindings, params };
    const compiled = this.device.createComputePipelineAsync({
      label: key,
      layout: this.device.createPipelineLayout({ label: key, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: spec.entry, constants: { ...spec.overrides } },
    }).then((pipeline) => { kernel.pipeline = pipeline; }, async (cause) => {
      const info = await module.getCompilationInfo();
      const msgs = info.messages.map((m) => `${m.type} at line ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n');
      throw new KernelCompileError(key, msgs || String(cause), { cause });
    });
    compiled.catch(() => {}); // reported to whoever awaits it, not as an unhandled rejection
    return { kernel, compiled };
  }
}

/** A bind group from buffers named as the WGSL names its bindings. Every binding must be given. */
export function bindGroup(device: GPUDevice, kernel: Kernel, buffers: Readonly<Record<string, GPUBindingResource | GPUBuffer>>, label = kernel.key): GPUBindGroup {
  const names = kernel.bindings.map((b) => b.name);
  const extra = Object.keys(buffers).filter((n) => !names.includes(n));
  const missing = names.filter((n) => !(n in buffers));
  if (extra.length || missing.length) {
    throw new Error(`${kernel.key}: bindings are ${names.join(', ')}` + (missing.length ? `; missing ${missing.join(', ')}` : '') + (extra.length ? `; unknown ${extra.join(', ')}` : ''));
  }
  return device.createBindGroup({
    label,
    layout: kernel.layout,
    entries: kernel.bindings.map((b) => {
      const r = buffers[b.name];
      return { binding: b.binding, resource: isBuffer(r) ? { buffer: r } : r };
    }),
  });
}

function isBuffer(r: GPUBindingResource | GPUBuffer): r is GPUBuffer {
  return typeof (r as GPUBuffer).mapAsync === 'function';
}
