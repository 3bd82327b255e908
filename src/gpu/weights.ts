// Weights on the GPU: GGUF bytes repacked (layout.ts) and uploaded, split over several buffers when
// the tensor is larger than maxStorageBufferBindingSize (a 150k-token vocabulary head, a layer's
// stacked experts). Parts hold whole matrices when the tensor is a stack (experts), so that an
// expert's gate and up rows never straddle two buffers; a single matrix splits by rows.
import type { GGMLType } from '../gguf/types.ts';
import { USAGE, type BufferPool } from './buffers.ts';
import { repack, UnsupportedWeightError, weightLayout, type WeightLayout } from './layout.ts';

export interface WeightPart {
  buffer: GPUBuffer;
  layout: WeightLayout;
  /** First flattened row (matrix * n + row) held here, and one past the last. */
  row0: number;
  rowEnd: number;
}

export interface GpuWeight {
  name: string;
  type: GGMLType;
  /** Columns (elements per row). */
  k: number;
  /** Rows per matrix. */
  n: number;
  /** Stacked matrices (experts); 1 for a plain matrix. */
  count: number;
  parts: WeightPart[];
  /** Bytes on the GPU. */
  bytes: number;
}

/** Rows per part so that one part's layout fits in `maxBytes`; whole matrices when `count` > 1,
 *  multiples of 64 rows otherwise. */
export function partRows(type: GGMLType, k: number, n: number, count: number, maxBytes: number, name: string): number {
  const total = n * count;
  const fits = (rows: number) => weightLayout(type, k, rows, name).words * 4 <= maxBytes;
  if (fits(total)) return total;
  // Whole matrices of a stack; 64-row steps of a single matrix (matvec/matmul tiles of 8 rows
  // never straddle two parts).
  const unit = count > 1 ? n : Math.min(64, total);
  if (!fits(unit)) {
    throw new UnsupportedWeightError(`tensor ${name}: one ${count > 1 ? 'matrix' : 'row'} does not fit in a storage binding of ${maxBytes} bytes`);
  }
  // largest multiple of unit that fits (binary search on the count of units)
  let lo = 1, hi = Math.ceil(total / unit);
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (fits(mid * unit)) lo = mid;
    else hi = mid - 1;
  }
  return lo * unit;
}

/** The GPU buffers of a (count, n, k) tensor, zeroed (WebGPU zero-fills new buffers): split as
 *  partRows says, each part with its own layout. */
export function allocWeight(
  pool: BufferPool, name: string, type: GGMLType, k: number, n: number, count: number, maxBindingBytes: number,
): GpuWeight {
  const rowsPer = partRows(type, k, n, count, maxBindingBytes, name);
  const total = n * count;
  const parts: WeightPart[] = [];
  let sum = 0;
  for (let r0 = 0; r0 < total; r0 += rowsPer) {
    const rows = Math.min(rowsPer, total - r0);
    const layout = weightLayout(type, k, rows, name);
    const buffer = pool.create(4 * layout.words, USAGE.STORAGE | USAGE.COPY_DST, `${name}[${r0}..${r0 + rows})`, 'weights');
    parts.push({ buffer, layout, row0: r0, rowEnd: r0 + rows });
    sum += 4 * layout.words;
  }
  return { name, type, k, n, count, parts, bytes: sum };
}

/** Uploads GGUF bytes of a (count, n, k) tensor, or of several same-type tensors concatenated by
 *  rows per matrix (see concatRows). */
export function uploadWeight(
  device: GPUDevice, pool: BufferPool, name: string, type: GGMLType, k: number, n: number, count: number,
  bytes: Uint8Array, maxBindingBytes: number,
): GpuWeight {
  const w = allocWeight(pool, name, type, k, n, count, maxBindingBytes);
  fillWeight(device, w, bytes);
  return w;
}

/** Writes the GGUF bytes of the whole tensor into the buffers of allocWeight. */
export function fillWeight(device: GPUDevice, w: GpuWeight, bytes: Uint8Array): void {
  const rowBytes = bytes.length / (w.n * w.count);
  for (const p of w.parts) {
    device.queue.writeBuffer(p.buffer, 0, repack(w.type, bytes.subarray(p.row0 * rowBytes, p.rowEnd * rowBytes), w.k, p.rowEnd - p.row0, w.name));
  }
}

/** Row-concatenates same-type tensors per matrix: for each matrix i, the rows of tensors[0]'s
 *  matrix i, then tensors[1]'s, ... (QKV fusion; gate+up of each expert). Sizes in bytes. */
export function concatRows(tensors: readonly Uint8Array[], count: number): Uint8Array {
  const per = tensors.map((t) => t.length / count);
  const out = new Uint8Array(tensors.reduce((s, t) => s + t.length, 0));
  let o = 0;
  for (let i = 0; i < count; i++) {
    tensors.forEach((t, j) => {
      out.set(t.subarray(i * per[j], (i + 1) * per[j]), o);
      o += per[j];
    });
  }
  return out;
}
