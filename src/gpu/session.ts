// A device for the engine: features and limits checked by name, uncaptured errors and device loss
// turned into a named GPUEngineError that the next engine call throws (with what to do), a
// pipeline cache and a buffer pool. A lost session cannot be revived; make a new one (the engine's
// `recreate()` does) — WebGPU gives no other way back from a lost device.
import { BufferPool } from './buffers.ts';
import { describeAdapter, isSoftwareAdapter, requestDevice, type GPUContext } from './device.ts';
import { PipelineCache } from './kernel.ts';

export type GPUEngineErrorCode = 'device-lost' | 'validation' | 'out-of-memory' | 'internal';

export class GPUEngineError extends Error {
  override name = 'GPUEngineError';
  constructor(readonly code: GPUEngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface SessionOptions {
  /** Print the WGSL of every pipeline as it is built (also: env WEBMOE_DUMP_WGSL=1 in Node). */
  dumpShaders?: boolean;
  /** Use shader-f16 kernels when the adapter has the feature (default true). */
  allowF16?: boolean;
  /** An existing device (tests share one); its errors are still watched. */
  context?: GPUContext;
}

export interface SessionFeatures {
  f16: boolean;
  /** Subgroup kernels can run: the `subgroups` feature and WGSL's subgroup_id builtin. */
  subgroups: boolean;
  timestamps: boolean;
}

export class GPUSession {
  readonly device: GPUDevice;
  readonly adapterName: string;
  /** A CPU-backed adapter (SwiftShader, llvmpipe): see isSoftwareAdapter. */
  readonly software: boolean;
  readonly features: SessionFeatures;
  readonly pipelines: PipelineCache;
  readonly buffers: BufferPool;
  /** The first uncaptured error or the loss of the device, if any. */
  failure?: GPUEngineError;
  /** A small read-only storage buffer for bindings a kernel variant declares but does not read. */
  readonly dummy: GPUBuffer;
  /** The same for read-write bindings a variant does not write. */
  readonly dummyRW: GPUBuffer;
  private readonly owned: boolean;
  private destroying = false;

  private constructor(readonly ctx: GPUContext, owned: boolean, opts: SessionOptions, parent?: GPUSession) {
    this.device = ctx.device;
    this.owned = owned;
    this.adapterName = describeAdapter(ctx.info);
    this.software = isSoftwareAdapter(ctx.info);
    const has = (f: GPUFeatureName) => ctx.device.features.has(f);
    this.features = { f16: (opts.allowF16 ?? true) && has('shader-f16'), subgroups: has('subgroups') && (ctx.wgslFeatures?.has('subgroup_id') ?? false), timestamps: has('timestamp-query') };
    const envDump = typeof process !== 'undefined' && process.env?.WEBMOE_DUMP_WGSL === '1';
    this.pipelines = parent?.pipelines ?? new PipelineCache(this.device, { dumpShaders: opts.dumpShaders ?? envDump });
    this.buffers = new BufferPool(this.device);
    this.dummy = this.buffers.create(256, GPUBufferUsage.STORAGE, 'dummy', 'io');
    this.dummyRW = this.buffers.create(256, GPUBufferUsage.STORAGE, 'dummy-rw', 'io');
    this.device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      const code: GPUEngineErrorCode = e instanceof GPUOutOfMemoryError ? 'out-of-memory' : e instanceof GPUValidationError ? 'validation' : 'internal';
      const hint = code === 'out-of-memory'
        ? 'The GPU ran out of memory: use a smaller context or model, or close other GPU-heavy tabs.'
        : 'This is a WebMoE bug: please report it with the message above.';
      this.failure ??= new GPUEngineError(code, `WebGPU ${code} error on ${this.adapterName}: ${e.message}\n${hint}`);
    });
    void this.device.lost.then((info) => {
      if (this.destroying) return; // our own destroy(); any other loss, even a destroy() elsewhere, is a failure
      this.failure ??= new GPUEngineError('device-lost',
        `The WebGPU device (${this.adapterName}) was lost (${info.reason}): ${info.message}. ` +
        'Call recreate() on the engine (or load it again) to continue; the KV cache is gone.');
    });
  }

  /** A new device with the largest storage bindings the adapter allows. */
  static async create(opts: SessionOptions = {}): Promise<GPUSession> {
    if (opts.context) return new GPUSession(opts.context, false, opts);
    const ctx = await requestDevice({
      label: 'webmoe-engine',
      optionalFeatures: ['shader-f16', 'subgroups', 'timestamp-query'],
      requiredLimits: {
        maxStorageBufferBindingSize: 'max',
        maxBufferSize: 'max',
        maxComputeWorkgroupStorageSize: 'max',
        maxComputeInvocationsPerWorkgroup: 'max',
        maxComputeWorkgroupSizeX: 'max',
        maxStorageBuffersPerShaderStage: 'max',
      },
      // Loss is reported through `failure`, not the console.
      onLost: () => {},
    });
    return new GPUSession(ctx, true, opts);
  }

  /** A session on the same device and pipeline cache with buffers of its own (destroying it frees
   *  only those): engines loaded one after another on a shared device. */
  child(): GPUSession {
    return new GPUSession(this.ctx, false, {}, this);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Throws the recorded failure, if any. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  destroy(): void {
    this.destroying = true;
    this.buffers.destroyAll();
    if (this.owned) this.device.destroy();
  }
}
