// How a GGUF file is cut into chunks for the store. The file is split into units (the header; each
// dense tensor; each expert of a stacked expert tensor, as the model plan names them: its expert
// index is outermost so one expert is one contiguous range) and units are packed in file order into chunks of at most `target` bytes (expert chunks:
// at most `expertTarget`, smaller, because an expert fetched on demand brings its whole chunk and the
// other experts in it are rarely the ones the router wants next). A unit never straddles a chunk
// boundary unless it is larger than the target, and then it is cut into the fewest pieces. Header,
// dense and expert bytes never share a chunk, so "dense first" fetches no expert bytes and an expert
// fetched on demand brings no dense bytes.
import type { GGUFFile, GGUFTensorInfo } from '../gguf/types.ts';

export type ChunkKind = 'header' | 'dense' | 'expert';

export interface Chunk {
  index: number;
  /** Absolute byte offset in the file. */
  offset: number;
  /** Bytes. */
  length: number;
  kind: ChunkKind;
}

export const DEFAULT_CHUNK_BYTES = 4 << 20; // 4 MiB: a few per second on a fast link, ~1.5k for a 6 GB model
/** Expert chunks: 1 MiB holds one expert slice of most MoE models (Qwen3-30B-A3B Q4_K: 0.9 MB) and
 *  packs tiny ones so their requests are not all overhead. */
export const DEFAULT_EXPERT_CHUNK_BYTES = 1 << 20;

interface Unit {
  end: number; // exclusive; units are contiguous from 0
  kind: ChunkKind;
}

/** Units in file order; each tensor's unit runs to the next tensor's start (alignment padding
 *  included), the last to the end of the file. */
function units(file: GGUFFile, size: number, experts: ReadonlyMap<string, number>): Unit[] {
  const out: Unit[] = [{ end: file.dataOffset, kind: 'header' }];
  const tensors = [...file.tensors].sort((a, b) => a.offset - b.offset);
  tensors.forEach((t, i) => {
    const start = file.dataOffset + t.offset;
    const end = i + 1 < tensors.length ? file.dataOffset + tensors[i + 1].offset : size;
    if (start > out[out.length - 1].end) out.push({ end: start, kind: 'dense' }); // a gap before the first tensor
    const n = experts.get(t.name);
    if (n !== undefined && t.nBytes % n === 0) {
      const per = t.nBytes / n;
      for (let e = 1; e < n; e++) out.push({ end: start + e * per, kind: 'expert' });
      out.push({ end, kind: 'expert' });
    } else {
      out.push({ end, kind: n === undefined ? 'dense' : 'expert' });
    }
  });
  if (out[out.length - 1].end < size) out.push({ end: size, kind: 'dense' });
  return out.filter((u, i) => u.end > (i > 0 ? out[i - 1].end : 0));
}

export interface ChunkOptions {
  /** The stacked routed-expert tensors (a plan's expertTensors): cut per expert. None for a file
   *  WebMoE cannot plan, whose tensors are all dense units. */
  experts?: Iterable<GGUFTensorInfo>;
  /** Target chunk size, bytes. */
  target?: number;
  /** Target size of expert chunks, bytes (never above `target`). */
  expertTarget?: number;
}

/** The chunks of `file` (of `size` bytes). */
export function planChunks(file: GGUFFile, size: number, opts: ChunkOptions = {}): Chunk[] {
  const { target = DEFAULT_CHUNK_BYTES, expertTarget = DEFAULT_EXPERT_CHUNK_BYTES } = opts;
  const experts = new Map([...opts.experts ?? []].map((t) => [t.name, t.shape[2] ?? 1]));
  if (!(target >= 256 && expertTarget >= 256)) throw new RangeError(`chunk sizes ${target} and ${expertTarget} bytes: too small`);
  const limit = (kind: ChunkKind) => (kind === 'expert' ? Math.min(target, expertTarget) : target);
  const chunks: Chunk[] = [];
  const push = (offset: number, end: number, kind: ChunkKind) => chunks.push({ index: chunks.length, offset, length: end - offset, kind });
  let start = 0; // of the open chunk
  let end = 0;
  let kind: ChunkKind = 'header';
  for (const u of units(file, size, experts)) {
    const uStart = end;
    const len = u.end - uStart;
    if (end > start && (u.kind !== kind || end - start + len > limit(kind))) {
      push(start, end, kind);
      start = end;
    }
    kind = u.kind;
    if (len > limit(kind)) {
      // Cut into the fewest pieces of near-equal size (multiples of 256 bytes but the last).
      const pieces = Math.ceil(len / limit(kind));
      const step = Math.ceil(len / pieces / 256) * 256;
      for (let p = uStart; p < u.end; p += step) push(p, Math.min(u.end, p + step), u.kind);
      start = end = u.end;
      continue;
    }
    end = u.end;
  }
  if (end > start) push(start, end, kind);
  return chunks;
}

/** Chunk boundaries as stored in the manifest: the end of each chunk. */
export function chunkEnds(chunks: Chunk[]): number[] {
  return chunks.map((c) => c.offset + c.length);
}

/** Chunks again from stored ends and kinds. */
export function chunksFromEnds(ends: number[], kinds: string): Chunk[] {
  const byLetter: Record<string, ChunkKind> = { h: 'header', d: 'dense', e: 'expert' };
  return ends.map((end, i) => {
    const offset = i === 0 ? 0 : ends[i - 1];
    return { index: i, offset, length: end - offset, kind: byLetter[kinds[i]] ?? 'dense' };
  });
}

export function kindLetters(chunks: Chunk[]): string {
  return chunks.map((c) => c.kind[0]).join('');
}

/** Index of the chunk holding byte `offset` (binary search over sorted chunks). */
export function chunkAt(chunks: Chunk[], offset: number): number {
  let lo = 0, hi = chunks.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (chunks[mid].offset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
