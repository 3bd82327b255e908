// Shared by the download tests: factory models made once per process, and a retry policy that
// waits milliseconds instead of seconds.
import { GGMLType } from '../../src/gguf/types.ts';
import type { RetryPolicy } from '../../src/fetch/retry.ts';
import { makeModel } from '../factory/make-model.ts';

/** qwen3moe, Q4_K, 2 layers × 8 experts of 36 KiB per projection: 2.4 MB. `seed` changes the
 *  weights, not the size; `nMerges` changes the size. */
const cache = new Map<string, Uint8Array>();
export function testModel(seed = 1, nMerges = 1000): Uint8Array {
  const key = `${seed}/${nMerges}`;
  let m = cache.get(key);
  if (!m) cache.set(key, (m = makeModel({ arch: 'qwen3moe', type: GGMLType.Q4_K, seed, nMerges, hp: { nLayer: 2, nExpert: 8 } })));
  return m;
}

/** 64 KiB chunks: ~60 of them in the test model, so a download has many. */
export const TEST_CHUNK_BYTES = 64 << 10;

export const FAST_RETRY: Partial<RetryPolicy> = { baseDelayMs: 1, maxDelayMs: 8, stallTimeoutMs: 300 };

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}
