// The range fetcher against the fault server, one misbehaviour at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultServer, type FaultConfig, type FaultServer } from '../../tools/faultserver/server.ts';
import {
  ContentRangeError, FileChangedError, HeadersNotExposedError, HttpStatusError, RangeNotSupportedError, RetriesExhaustedError, ServerBusyError,
} from './errors.ts';
import { fetchContext, fetchRange, type FetchContext, type RetryInfo } from './range.ts';
import { retryPolicy } from './retry.ts';

const file = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 8)) & 255);
const other = Uint8Array.from(file, (b) => b ^ 0x5a); // same length, other bytes
let server: FaultServer;
let n = 0;

beforeAll(async () => {
  server = await startFaultServer();
});
afterAll(() => server.close());

/** Serves `file` at a fresh path with `config`; a context whose sleeps are recorded, not slept. */
function setup(config: FaultConfig, bytes = file) {
  const path = `/f${n++}.bin`;
  server.serve(path, bytes, config);
  const delays: number[] = [];
  const retries: RetryInfo[] = [];
  const ctx = fetchContext(server.url(path), retryPolicy({ sleep: async (ms) => void delays.push(ms), stallTimeoutMs: 150 }), {
    onRetry: (r) => void retries.push(r),
  });
  const requests = () => server.log.filter((e) => e.path === path).length;
  return { path, ctx, delays, retries, requests };
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

describe('fetchRange', () => {
  it('reads a range and learns the file identity from the first answer', async () => {
    const { ctx } = setup({});
    const got = await fetchRange(ctx, 1000, 5000);
    expect(same(got, file.subarray(1000, 6000))).toBe(true);
    expect(ctx.identity).toEqual({ size: file.length, etag: '"v0-300000"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' });
    // A first read past the end of a file of unknown size gives what exists.
    const { ctx: c2 } = setup({});
    expect((await fetchRange(c2, 299_990, 100, true)).length).toBe(10);
  });

  it.each<[string, FaultConfig]>([
    ['dropped connections', { drop: 0.5 }],
    ['truncated bodies', { truncate: 0.5 }],
    ['500s and 503s', { status500: 0.3, status503: 0.3 }],
    ['slow bodies', { slow: 0.5, slowPauseMs: 1 }],
    ['stalled bodies', { stall: 0.3 }],
    ['shifted ranges now and then', { wrongRange: 0.3 }],
  ])('survives %s and returns the exact bytes', async (_what, config) => {
    const { path, ctx } = setup({ seed: 5, ...config });
    for (let i = 0; i < 6; i++) {
      const got = await fetchRange(ctx, i * 40_000, 40_000);
      expect(same(got, file.subarray(i * 40_000, (i + 1) * 40_000))).toBe(true);
    }
    expect(Object.values(server.faults(path)).reduce((a, b) => a + b, 0)).toBeGreaterThan(0); // the faults did happen
  });

  it('resumes a dropped range from the first missing byte', async () => {
    const { path, ctx, retries } = setup({ seed: 3, drop: 0.6 });
    for (let i = 0; i < 5; i++) await fetchRange(ctx, i * 50_000, 50_000);
    expect(retries.length).toBeGreaterThan(0);
    // Requests of one range share its last byte; each retry starts past where the last one began.
    const starts = new Map<string, number[]>();
    for (const e of server.log.filter((x) => x.path === path)) {
      const [first, last] = e.range!.slice(6).split('-');
      starts.set(last, [...(starts.get(last) ?? []), Number(first)]);
    }
    expect(starts.size).toBe(5);
    for (const s of starts.values()) for (let i = 1; i < s.length; i++) expect(s[i]).toBeGreaterThanOrEqual(s[i - 1]);
    const resumed = [...starts.values()].flatMap((s) => s.slice(1).map((x, i) => x - s[i]));
    expect(resumed.some((d) => d > 0)).toBe(true); // bytes already received were not asked for again
  });

  it('names a server that ignores Range, after one request', async () => {
    const { ctx, requests } = setup({ noRange: true });
    await expect(fetchRange(ctx, 100, 100)).rejects.toBeInstanceOf(RangeNotSupportedError);
    expect(requests()).toBe(1);
  });

  it('never uses the bytes of a wrong Content-Range, and names it when it persists', async () => {
    const { ctx } = setup({ wrongRange: 1 });
    const e = await fetchRange(ctx, 100, 100).catch((x) => x);
    expect(e).toBeInstanceOf(RetriesExhaustedError);
    expect(e.cause).toBeInstanceOf(ContentRangeError);
    expect(e.message).toMatch(/Content-Range/);
  });

  it('does not retry a 404, and says what to check', async () => {
    const ctx = fetchContext(server.url('/nothing-here'), retryPolicy({ sleep: async () => {} }));
    const e = await fetchRange(ctx, 0, 10).catch((x) => x);
    expect(e).toBeInstanceOf(HttpStatusError);
    expect(e.status).toBe(404);
    expect(e.message).toMatch(/no file at this URL/);
    expect(server.log.filter((x) => x.path === '/nothing-here').length).toBe(1);
  });

  it('waits what Retry-After says (seconds or a date), and refuses to wait hours', async () => {
    const a = setup({ seed: 1, status429: 0.5, retryAfter: '2' });
    await fetchRange(a.ctx, 0, 1000);
    await fetchRange(a.ctx, 1000, 1000);
    await fetchRange(a.ctx, 2000, 1000);
    expect(a.delays.length).toBeGreaterThan(0);
    expect(a.delays.every((d) => d === 2000)).toBe(true);

    const b = setup({ seed: 1, status503: 1, retryAfter: new Date(Date.now() + 60_000).toUTCString() });
    await expect(fetchRange(b.ctx, 0, 1000)).rejects.toBeInstanceOf(RetriesExhaustedError);
    expect(b.delays.every((d) => d > 55_000 && d <= 60_000)).toBe(true);

    const c = setup({ status429: 1, retryAfter: '3600' });
    await expect(fetchRange(c.ctx, 0, 1000)).rejects.toBeInstanceOf(ServerBusyError);
  });

  it.each<[string, FaultConfig, Uint8Array, RegExp]>([
    ['ETag', { lastModified: false }, other, /ETag "v0-300000" → "v1-300000"/],
    ['Last-Modified', { etag: false }, other, /Last-Modified .* → /],
    ['length', { etag: false, lastModified: false }, other.subarray(0, 200_000), /length 300000 → 200000 bytes/],
  ])('sees the file replaced mid-download by its %s', async (_by, config, replacement, message) => {
    const { ctx } = setup({ ...config, replaceAfterBytes: 50_000, replacement });
    await fetchRange(ctx, 0, 60_000);
    const e = await fetchRange(ctx, 60_000, 10_000).catch((x) => x);
    expect(e).toBeInstanceOf(FileChangedError);
    expect(e.message).toMatch(message);
  });

  it('requires Content-Range on a first read, accepts its absence once the size is known', async () => {
    const body = file.subarray(0, 100);
    const fake = (async () => new Response(body, { status: 206, headers: { 'Content-Length': '100' } })) as typeof fetch;
    const ctx: FetchContext = fetchContext('http://example.invalid/x', retryPolicy(), { fetch: fake });
    await expect(fetchRange(ctx, 0, 100)).rejects.toBeInstanceOf(HeadersNotExposedError);
    ctx.identity = { size: file.length };
    expect(same(await fetchRange(ctx, 0, 100), body)).toBe(true);
  });

  it('stops at once when aborted', async () => {
    const { ctx } = setup({ rate: 100_000 }); // 3 s for the whole file
    const ac = new AbortController();
    ctx.signal = ac.signal;
    const t0 = Date.now();
    setTimeout(() => ac.abort(new Error('user stop')), 100);
    await expect(fetchRange(ctx, 0, 300_000)).rejects.toThrow('user stop');
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});
