// The page-side pieces that need no worker: errors keep name, code, stack and cause across a
// structured clone; a Generation yields chunks in order, ends with the result, surfaces the error,
// and stops the worker when its loop is left early.
import { describe, expect, it } from 'vitest';
import { FileHashMismatchError, RetriesExhaustedError, NetworkError } from '../fetch/errors.ts';
import { StorageQuotaError } from '../storage/store.ts';
import { serializeError, WebMoEError } from './errors.ts';
import { Generation, type TokenChunk } from './generation.ts';
import type { GenerationResult } from './protocol.ts';

describe('errors across the boundary', () => {
  it('keep name, message, code, stack and causes through structuredClone', () => {
    const quota = new StorageQuotaError(5e9, 1e9, '3 GB used');
    const back = new WebMoEError(structuredClone(serializeError(quota)));
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe('StorageQuotaError');
    expect(back.code).toBe('quota');
    expect(back.message).toBe(quota.message);
    expect(back.message).toMatch(/Delete stored models/);
    expect(back.stack).toBe(quota.stack);

    const net = new NetworkError('http://x/m.gguf', 'connection reset');
    const gaveUp = new RetriesExhaustedError('http://x/m.gguf', 5, net);
    const b2 = new WebMoEError(structuredClone(serializeError(gaveUp)));
    expect(b2).toMatchObject({ name: 'RetriesExhaustedError', code: 'retries-exhausted' });
    expect(b2.cause).toMatchObject({ name: 'NetworkError', code: 'network', message: net.message });
    expect(b2.toJSON()).toEqual(serializeError(b2));

    expect(new WebMoEError(serializeError(new FileHashMismatchError('u', 'aa', 'bb'))).name).toBe('FileHashMismatchError');
  });

  it('describe what is thrown that is not an Error, and stop at a cyclic cause', () => {
    expect(serializeError('plain text')).toEqual({ name: 'Error', message: 'plain text' });
    expect(serializeError(42)).toEqual({ name: 'Error', message: '42' });
    const a = new Error('a');
    a.cause = a;
    let depth = 0;
    for (let s = serializeError(a); s.cause; s = s.cause) depth++;
    expect(depth).toBe(4);
  });
});

const result = (text: string): GenerationResult => ({
  promptIds: [1], ids: [2, 3], text, stop: 'max-tokens', prefilledTokens: 1, reusedTokens: 0, droppedMessages: 0,
  prefillMs: 1, decodeMs: 1, prefillTokS: 1, decodeTokS: 1,
});

describe('Generation', () => {
  it('yields every chunk in order, including those pushed before iteration starts', async () => {
    let push!: (c: TokenChunk) => void, finish!: (r: GenerationResult) => void;
    const g = new Generation((p) => { push = p; return new Promise((res) => (finish = res)); }, () => {});
    push({ text: 'a', ids: [2] });
    const seen: string[] = [];
    const loop = (async () => { for await (const c of g) seen.push(c.text); })();
    await Promise.resolve();
    push({ text: 'b', ids: [3] });
    push({ text: '', ids: [] });
    finish(result('ab'));
    await loop;
    expect(seen).toEqual(['a', 'b', '']);
    expect(await g.text()).toBe('ab');
    await expect((async () => { for await (const _ of g) { /* again */ } })()).rejects.toThrow(/iterated once/);
  });

  it('throws the failure in the loop and rejects the result', async () => {
    const g = new Generation(async (p) => { p({ text: 'x', ids: [1] }); throw new WebMoEError({ name: 'GPUEngineError', message: 'lost', code: 'device-lost' }); }, () => {});
    const seen: string[] = [];
    const err = await (async () => { for await (const c of g) seen.push(c.text); })().catch((e: unknown) => e);
    expect(seen).toEqual(['x']);
    expect(err).toMatchObject({ name: 'GPUEngineError', code: 'device-lost' });
    await expect(g.result).rejects.toMatchObject({ code: 'device-lost' });
  });

  it('leaving the loop early cancels; a finished one is not cancelled', async () => {
    let cancels = 0, push!: (c: TokenChunk) => void, finish!: (r: GenerationResult) => void;
    const g = new Generation((p) => { push = p; return new Promise((res) => (finish = res)); }, () => cancels++);
    push({ text: 'a', ids: [2] });
    for await (const _ of g) break;
    expect(cancels).toBe(1);
    finish(result('a'));
    await g.result;
    g.abort();
    expect(cancels).toBe(1);
  });
});
