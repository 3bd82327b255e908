// How a GGUF file is cut into chunks. The file is split into units (the header; each dense tensor;
// each expert of a 3-D expert tensor, whose expert index is outermost so one expert is one contiguous
// range) and units are packed in file order into chunks of at most `target` bytes (expert chunks:
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

/** Merged 3-D expert tensors (blk.N.ffn_gate_exps.weight) and llama.cpp's older per-expert 2-D
 *  tensors (blk.N.ffn_gate.E.weight). */
const MERGED_EXPERTS = /^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight$/;
const SPLIT_EXPERT = /^blk\.(\d+)\.ffn_(gate|up|down)\.(\d+)\.weight$/;

export function isExpertTensor(t: GGUFTensorInfo): boolean {
  return (MERGED_EXPERTS.test(t.name) && t.shape.length === 3) || SPLIT_EXPERT.test(t.name);
}

interface Unit {
  end: number; // exclusive; units are contiguous from 0
  kind: ChunkKind;
}

/** Units in file order; each tensor's unit runs to the next tensor's start (alignment padding
 *  included), the last to the end of the file. */
function units(file: GGUFFile, size: number): Unit[] {
  const out: Unit[] = [{ end: file.dataOffset, kind: 'header' }];
  const tensors = [...file.tensors].sort((a, b) => a.offset - b.offset);
  tensors.forEach((t, i) => {
    const start = file.dataOffset + t.offset;
    const end = i + 1 < tensors.length ? file.dataOffset + tensors[i + 1].offset : size;
    if (start > out[out.length - 1].end) out.push({ end: start, kind: 'dense' }); // a gap before the first tensor
    if (MERGED_EXPERTS.test(t.name) && t.shape.length === 3 && t.nBytes % t.shape[2] === 0) {
      const per = t.nBytes / t.shape[2];
      for (let e = 1; e < t.shape[2]; e++) out.push({ end: start + e * per, kind: 'expert' });
      out.push({ end, kind: 'expert' });
    } else {
      out.push({ end, kind: isExpertTensor(t) ? 'expert' : 'dense' });
    }
  });
  if (out[out.length - 1].end < size) out.push({ end: size, kind: 'dense' });
  return out.filter((u, i) => u.end > (i > 0 ? out[i - 1].end : 0));
}

/** The chunks of `file` (of `size` bytes) for target chunk sizes in bytes. */
export function planChunks(file: GGUFFile, size: number, target = DEFAULT_CHUNK_BYTES, expertTarget = DEFAULT_EXPERT_CHUNK_BYTES): Chunk[] {
  if (!(target >= 256 && expertTarget >= 256)) throw new RangeError(`chunk sizes ${target} and ${expertTarget} bytes: too small`);
  const limit = (kind: ChunkKind) => (kind === 'expert' ? Math.min(target, expertTarget) : target);
  const chunks: Chunk[] = [];
  const push = (offset: number, end: number, kind: ChunkKind) => chunks.push({ index: chunks.length, offset, length: end - offset, kind });
  let start = 0; // of the open chunk
  let end = 0;
  let kind: ChunkKind = 'header';
  for (const u of units(file, size)) {
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

export type ExpertPart = 'gate' | 'up' | 'down';

/** File byte ranges of expert `expert` of layer `layer`: one contiguous range per projection. */
export function expertRanges(file: GGUFFile, layer: number, expert: number): Record<ExpertPart, { offset: number; length: number }> {
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const range = (part: ExpertPart) => {
    const merged = byName.get(`blk.${layer}.ffn_${part}_exps.weight`);
    if (merged && merged.shape.length === 3) {
      const n = merged.shape[2];
      if (!(expert >= 0 && expert < n && Number.isInteger(expert))) throw new RangeError(`layer ${layer} has experts 0..${n - 1}, not ${expert}`);
      const per = merged.nBytes / n;
      return { offset: file.dataOffset + merged.offset + expert * per, length: per };
    }
    const split = byName.get(`blk.${layer}.ffn_${part}.${expert}.weight`);
    if (split) return { offset: file.dataOffset + split.offset, length: split.nBytes };
    throw new RangeError(`the model has no expert ${expert} in layer ${layer} (no blk.${layer}.ffn_${part}_exps.weight or blk.${layer}.ffn_${part}.${expert}.weight)`);
  };
  return { gate: range('gate'), up: range('up'), down: range('down') };
}
