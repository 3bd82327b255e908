// The page's model registry with a fake loader: one load per model for any number of holders,
// progress to every holder (the latest one replayed to late ones), unload after the last release
// (not when a holder leaves and comes back within a task), a cancelled load when every holder
// left, and a failed load tried again.
import { describe, expect, it } from 'vitest';
import type { LoadProgress, WebMoELoadOptions } from '../client/webmoe.ts';
import { ModelRegistry } from './registry.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));

function fakeLoader() {
  const loads: { url: string; opts: WebMoELoadOptions; finish: () => void; fail: (e: Error) => void }[] = [];
  const unloaded: string[] = [];
  const load = (url: string, opts: WebMoELoadOptions) => new Promise<{ url: string; unload(): Promise<void> }>((resolve, reject) => {
    const model = { url, unload: async () => { unloaded.push(url); } };
    opts.signal?.addEventListener('abort', () => reject(new DOMException('load was cancelled', 'AbortError')));
    loads.push({ url, opts, finish: () => resolve(model), fail: reject });
  });
  return { load, loads, unloaded };
}

const progress = (bytesDone: number): LoadProgress => ({
  type: 'progress', phase: 'download', modelId: 'u', url: 'u', bytesDone, bytesTotal: 100, bytesFetched: bytesDone, rate: 1, chunksDone: 0, chunksTotal: 1, chunksResumed: 0, retries: 0,
});

describe('ModelRegistry', () => {
  it('notices reach every holder, those that arrive later too; other events do not', () => {
    const f = fakeLoader();
    const reg = new ModelRegistry(f.load);
    const seenA: string[] = [], seenB: string[] = [];
    reg.acquire({ url: 'u' }, (p) => seenA.push(p.type === 'notice' ? p.what : p.type));
    const shared = { type: 'notice', what: 'shared', message: 'another tab of this site is downloading it' } as const;
    f.loads[0].opts.onEvent!(shared);
    f.loads[0].opts.onEvent!({ type: 'chunk', index: 0, offset: 0, length: 1, resumed: false } as never);
    f.loads[0].opts.onProgress!(progress(10));
    reg.acquire({ url: 'u' }, (p) => seenB.push(p.type === 'notice' ? p.what : p.type));
    expect(seenA).toEqual(['shared', 'progress']);
    expect(seenB).toEqual(['shared', 'progress']);
  });

  it('one load for every holder of the same model; unloaded after the last release', async () => {
    const f = fakeLoader();
    const reg = new ModelRegistry(f.load);
    const seenA: number[] = [], seenB: number[] = [];
    const a = reg.acquire({ url: 'u', sha256: 'x' }, (p) => { if (p.type === 'progress') seenA.push(p.bytesDone); });
    f.loads[0].opts.onProgress!(progress(10));
    const b = reg.acquire({ url: 'u' }, (p) => { if (p.type === 'progress') seenB.push(p.bytesDone); });
    f.loads[0].opts.onProgress!(progress(20));
    expect(f.loads.length).toBe(1);
    expect(f.loads[0].opts).toMatchObject({ sha256: 'x' });
    expect(seenA).toEqual([10, 20]);
    expect(seenB).toEqual([10, 20]); // the latest one replayed when it arrived
    f.loads[0].finish();
    expect(await a.model).toBe(await b.model);

    // another budget is another model
    reg.acquire({ url: 'u', expertBudget: 1e6 });
    expect(f.loads.length).toBe(2);
    expect(f.loads[1].opts.expertBudget).toBe(1e6);
    // and other kernels another model (auto is the default)
    reg.acquire({ url: 'u', sha256: 'x', kernels: 'auto' }).release();
    expect(f.loads.length).toBe(2);
    reg.acquire({ url: 'u', kernels: 'hardware' });
    expect(f.loads.length).toBe(3);
    expect(f.loads[2].opts.kernels).toBe('hardware');

    a.release();
    a.release(); // twice counts once
    await tick();
    expect(f.unloaded).toEqual([]);
    b.release();
    expect(f.unloaded).toEqual([]); // not yet: a holder may come back within this task
    await tick();
    expect(f.unloaded).toEqual(['u']);
    expect(reg.size).toBe(2); // the other budget's and the hardware kernels' models are still held
  });

  it('a holder that leaves and comes back within a task keeps the model', async () => {
    const f = fakeLoader();
    const reg = new ModelRegistry(f.load);
    const a = reg.acquire({ url: 'u' });
    f.loads[0].finish();
    await a.model;
    a.release();
    const again = reg.acquire({ url: 'u' }); // an element moved in the DOM
    await tick();
    expect(f.loads.length).toBe(1);
    expect(f.unloaded).toEqual([]);
    again.release();
    await tick();
    expect(f.unloaded).toEqual(['u']);
  });

  it('a load every holder left is cancelled; a failed load is tried again by the next holder', async () => {
    const f = fakeLoader();
    const reg = new ModelRegistry(f.load);
    const a = reg.acquire({ url: 'u' });
    a.release();
    await tick();
    await expect(a.model).rejects.toMatchObject({ name: 'AbortError' });
    expect(f.loads[0].opts.signal?.aborted).toBe(true);
    expect(reg.size).toBe(0);

    const b = reg.acquire({ url: 'v' });
    f.loads[1].fail(new Error('404'));
    await expect(b.model).rejects.toThrow('404');
    const c = reg.acquire({ url: 'v' });
    expect(f.loads.length).toBe(3);
    f.loads[2].finish();
    expect((await c.model).url).toBe('v');
  });
});
