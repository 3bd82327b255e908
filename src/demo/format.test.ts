// The demo's number formatting and field parsing.
import { describe, expect, it } from 'vitest';
import { bytes, duration, ms, parseStops, plural, progressLine, tokS } from './format.ts';

describe('demo formatting', () => {
  it('bytes, rates, durations, speeds', () => {
    expect([bytes(0), bytes(999), bytes(4285472), bytes(45_600), bytes(2.5e9), bytes(NaN)])
      .toEqual(['0 B', '999 B', '4.29 MB', '45.6 kB', '2.50 GB', '?']);
    expect([duration(45), duration(200), duration(7500), duration(-1)]).toEqual(['45 s', '3 min 20 s', '2 h 5 min', '?']);
    expect([ms(850.4), ms(2430)]).toEqual(['850 ms', '2.4 s']);
    expect([tokS(31.234), tokS(250.4), tokS(null), tokS(0)]).toEqual(['31.2 tok/s', '250 tok/s', '–', '–']);
    expect([plural(1, 'token'), plural(0, 'token')]).toEqual(['1 token', '0 tokens']);
  });

  it('progress lines say phase, bytes, rate and time left', () => {
    const p = {
      type: 'progress', phase: 'download', modelId: 'x', url: 'u', bytesDone: 1_000_000, bytesTotal: 4_000_000, chunksDone: 1,
      chunksTotal: 4, chunksResumed: 0, bytesFetched: 1_000_000, rate: 500_000, etaSeconds: 6, retries: 0,
    } as const;
    expect(progressLine(p)).toEqual({ text: 'Downloading · 1.00 MB of 4.00 MB · 500 kB/s · 6 s left', fraction: 0.25 });
    expect(progressLine({ ...p, phase: 'resume', chunksResumed: 3, rate: 0 }).text).toBe('Checking stored chunks · 1.00 MB of 4.00 MB · 3 chunks were already stored');
    expect(progressLine({ type: 'load', step: 'weights', done: 1e6, total: 4e6 })).toEqual({ text: 'Uploading weights to the GPU: 1.00 MB of 4.00 MB', fraction: 0.25 });
    expect(progressLine({ type: 'load', step: 'weights', done: 1e6, total: 4e6, backend: 'wasm' })).toEqual({ text: 'Copying weights into the WebAssembly heap: 1.00 MB of 4.00 MB', fraction: 0.25 });
    expect(progressLine({ type: 'load', step: 'weights', done: 4e6, total: 4e6 }).text).toBe('Building the GPU pipelines');
  });

  it('stop strings: one per line, \\n escapes', () => {
    expect(parseStops('User:\n\\n\\n\n\nEND')).toEqual(['User:', '\n\n', 'END']);
    expect(parseStops('')).toEqual([]);
  });
});
