// GPU buffers with byte counters. Weights and the KV cache are allocated once at their exact size;
// scratch buffers (activations of a batch) come from free lists by size class, so a prefill of
// 37 tokens after one of 40 reuses the same buffers. Every allocation is counted by category.

export type BufferCategory = 'weights' | 'kv' | 'scratch' | 'io';

const STORAGE = 0x0080, COPY_SRC = 0x0004, COPY_DST = 0x0008, MAP_READ = 0x0001, UNIFORM = 0x0040;
// (GPUBufferUsage values; the global may not exist before Dawn loads in Node.)
export const USAGE = { STORAGE, COPY_SRC, COPY_DST, MAP_READ, UNIFORM } as const;

export interface BufferStats {
  /** Bytes currently allocated on the device, by category. */
  bytes: Record<BufferCategory, number>;
  /** Buffers currently allocated. */
  count: number;
  /** Largest total bytes allocated at any time. */
  peakBytes: number;
  /** Scratch requests served from a free list. */
  reused: number;
}

/** Smallest size class holding n bytes: powers of two from 256 B up to 1 MiB, then whole MiB. */
export function sizeClass(n: number): number {
  const MiB = 1 << 20;
  if (n <= 256) return 256;
  if (n <= MiB) return 2 ** Math.ceil(Math.log2(n));
  return Math.ceil(n / MiB) * MiB;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly live = new Map<GPUBuffer, { category: BufferCategory; size: number; poolKey?: string }>();
  readonly stats: BufferStats = { bytes: { weights: 0, kv: 0, scratch: 0, io: 0 }, count: 0, peakBytes: 0, reused: 0 };

  constructor(private readonly device: GPUDevice) {}

  /** A buffer of exactly `size` bytes (rounded up to 4). */
  create(size: number, usage: number, label: string, category: BufferCategory): GPUBuffer {
    const bytes = Math.max(4, Math.ceil(size / 4) * 4);
    const buffer = this.device.createBuffer({ size: bytes, usage, label });
    this.track(buffer, category, bytes);
    return buffer;
  }

  /** A scratch buffer of at least `size` bytes, reused from the free list of its size class. */
  acquire(size: number, usage: number, label: string): GPUBuffer {
    const cls = sizeClass(size);
    const key = `${cls}:${usage}`;
    const list = this.free.get(key);
    const reused = list?.pop();
    if (reused) {
      this.stats.reused++;
      this.live.set(reused, { category: 'scratch', size: cls, poolKey: key });
      return reused;
    }
    const buffer = this.device.createBuffer({ size: cls, usage, label });
    this.track(buffer, 'scratch', cls, key);
    return buffer;
  }

  /** Returns a scratch buffer to its free list (it stays allocated and counted). */
  release(buffer: GPUBuffer): void {
    const info = this.live.get(buffer);
    if (!info?.poolKey) throw new Error(`buffer ${buffer.label} was not acquired from this pool`);
    const list = this.free.get(info.poolKey) ?? [];
    list.push(buffer);
    this.free.set(info.poolKey, list);
  }

  /** Frees a buffer now. */
  destroy(buffer: GPUBuffer): void {
    const info = this.live.get(buffer);
    if (!info) return;
    this.live.delete(buffer);
    if (info.poolKey) {
      const list = this.free.get(info.poolKey);
      const i = list?.indexOf(buffer) ?? -1;
      if (list && i >= 0) list.splice(i, 1);
    }
    this.stats.bytes[info.category] -= info.size;
    this.stats.count--;
    buffer.destroy();
  }

  destroyAll(): void {
    for (const b of [...this.live.keys()]) this.destroy(b);
    this.free.clear();
  }

  get totalBytes(): number {
    const b = this.stats.bytes;
    return b.weights + b.kv + b.scratch + b.io;
  }

  private track(buffer: GPUBuffer, category: BufferCategory, size: number, poolKey?: string): void {
    this.live.set(buffer, { category, size, poolKey });
    this.stats.bytes[category] += size;
    this.stats.count++;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.totalBytes);
  }
}
