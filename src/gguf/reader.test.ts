// The header reader on its own: both GGUF versions, alignments other than 32, the three browser
// sources (bytes, Blob, URL with Range requests against a loopback server), how many bytes a header
// read costs, and a named error with the right code and byte offset for each way a header can be wrong.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeModel } from '../../tools/factory/make-model.ts';
import { GGUFError, MAX_HEADER_BYTES, readGGUF } from './reader.ts';
import { RangeRequestError, urlSource } from '../fetch/remote-source.ts';
import { blobSource, bytesSource, type RangeSource } from './source.ts';
import { GGMLType, GGUFValueType } from './types.ts';
import { gv, writeGGUF, type TensorInput } from './writer.ts';

/** A source that counts what is read through it. */
function counting(inner: RangeSource) {
  const c = { reads: 0, bytes: 0 };
  const src: RangeSource = {
    name: inner.name,
    size: () => inner.size(),
    read: async (o, n) => {
      const b = await inner.read(o, n);
      c.reads++;
      c.bytes += b.length;
      return b;
    },
  };
  return { src, c };
}

/** Small tensors with recognisable bytes (value k*1000 + i), so an offset that points anywhere
 *  else is caught. Row lengths are whole blocks of their type. */
function knownTensors(): TensorInput[] {
  const f32 = (k: number, shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n).map((_, i) => k * 1000 + i);
    return { name: `t${k}`, shape, type: GGMLType.F32, data: new Uint8Array(x.buffer) };
  };
  const raw = (k: number, type: GGMLType, shape: number[], nBytes: number) =>
    ({ name: `t${k}`, shape, type, data: new Uint8Array(nBytes).map((_, i) => (k * 31 + i) & 0xff) });
  return [f32(0, [3]), f32(1, [5, 7]), raw(2, GGMLType.Q8_0, [64, 3], 2 * 3 * 34), f32(3, [2, 3, 4, 5]), raw(4, GGMLType.Q4_K, [256], 144)];
}

describe('versions and alignment', () => {
  it('reads GGUF v2 and v3 of the same model identically, apart from the version', async () => {
    const v3 = await readGGUF(bytesSource(makeModel({ arch: 'qwen3moe', seed: 5, nMerges: 50, version: 3 })));
    const v2 = await readGGUF(bytesSource(makeModel({ arch: 'qwen3moe', seed: 5, nMerges: 50, version: 2 })));
    expect(v3.version).toBe(3);
    expect(v2.version).toBe(2);
    expect(v2.tensors).toEqual(v3.tensors);
    expect(v2.metadata).toEqual(v3.metadata);
    expect(v2.dataOffset).toBe(v3.dataOffset);
  });

  it.each([1, 8, 32, 64, 256, 4096])('alignment %i: offsets point at each tensor\'s own bytes', async (alignment) => {
    const tensors = knownTensors();
    const bytes = writeGGUF([['general.architecture', gv.str('none')]], tensors, { alignment });
    const g = await readGGUF(bytesSource(bytes));
    expect(g.alignment).toBe(alignment);
    expect(g.dataOffset % alignment).toBe(0);
    expect(g.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    g.tensors.forEach((t, k) => {
      expect(t.offset % alignment).toBe(0);
      expect(t.shape).toEqual(tensors[k].shape);
      expect(t.nBytes).toBe(tensors[k].data.length);
      expect(bytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.nBytes)).toEqual(tensors[k].data);
    });
    // Alignment 32 is the default: then the key is not written at all.
    expect(g.metadata.has('general.alignment')).toBe(alignment !== 32);
  });

  it('refuses an alignment that is not a power-of-two uint32', async () => {
    for (const entry of [gv.u32(48), gv.u32(0), gv.i32(64), gv.u64(64n)]) {
      // Hand-written: writeGGUF sets general.alignment itself from its options.
      const bytes = writeRaw({ kv: [['general.alignment', entry]] });
      await expect(readGGUF(bytesSource(bytes))).rejects.toMatchObject({ name: 'GGUFError', code: 'bad-alignment' });
    }
  });
});

// ---- hand-built headers -------------------------------------------------------------------

/** Little-endian byte builder for headers the writer would never produce. */
class Raw {
  private parts: number[] = [];
  u8(v: number) { this.parts.push(v & 0xff); return this; }
  u32(v: number) { for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff); return this; }
  u64(v: bigint) { for (let i = 0n; i < 8n; i++) this.parts.push(Number((v >> (8n * i)) & 0xffn)); return this; }
  str(s: string) { const b = new TextEncoder().encode(s); this.u64(BigInt(b.length)); b.forEach((x) => this.parts.push(x)); return this; }
  get length() { return this.parts.length; }
  bytes() { return new Uint8Array(this.parts); }
}

interface RawTensor { name: string; dims: bigint[]; type: number; offset: bigint }

/** A header from parts: any counts, any kv entries (as the writer's GGUFEntry), any tensor infos. */
function writeRaw(o: { magic?: number; version?: number; nTensors?: bigint; nKv?: bigint; kv?: [string, ReturnType<typeof gv.u32>][]; tensors?: RawTensor[]; pad?: number }) {
  const r = new Raw().u32(o.magic ?? 0x46554747).u32(o.version ?? 3);
  r.u64(o.nTensors ?? BigInt(o.tensors?.length ?? 0)).u64(o.nKv ?? BigInt(o.kv?.length ?? 0));
  for (const [k, e] of o.kv ?? []) {
    r.str(k).u32(e.type);
    const one = (t: GGUFValueType, v: unknown) => {
      if (t === GGUFValueType.STRING) r.str(v as string);
      else if (t === GGUFValueType.UINT64 || t === GGUFValueType.INT64) r.u64(BigInt(v as bigint));
      else if (t === GGUFValueType.BOOL || t === GGUFValueType.UINT8) r.u8(Number(v));
      else r.u32(Number(v)); // u32/i32 (the only other kinds these tests write)
    };
    if (e.type === GGUFValueType.ARRAY) {
      r.u32(e.itemType!).u64(BigInt((e.value as unknown[]).length));
      for (const v of e.value as unknown[]) one(e.itemType!, v);
    } else one(e.type, e.value);
  }
  for (const t of o.tensors ?? []) {
    r.str(t.name).u32(t.dims.length);
    t.dims.forEach((d) => r.u64(d));
    r.u32(t.type).u64(t.offset);
  }
  for (let i = 0; i < (o.pad ?? 0); i++) r.u8(0);
  return r.bytes();
}

const t = (name: string, dims: bigint[], type: number = GGMLType.F32, offset = 0n): RawTensor => ({ name, dims, type, offset });

describe('named errors with byte offsets', () => {
  // Each case: the bytes, the code, and the byte offset where the problem starts (counted by hand:
  // magic 4 + version 4 + tensor count 8 + kv count 8 = 24 bytes before the first entry).
  const cases: [string, Uint8Array, string, number | undefined][] = [
    ['wrong magic', writeRaw({ magic: 0x46554746 }), 'bad-magic', 0],
    ['version 1', writeRaw({ version: 1 }), 'unsupported-version', 4],
    ['version 4', writeRaw({ version: 4 }), 'unsupported-version', 4],
    ['empty file', new Uint8Array(0), 'truncated', 0],
    ['cut inside the version', writeRaw({}).subarray(0, 6), 'truncated', 4],
    ['kv count larger than the file', writeRaw({ nKv: 1000n }), 'bad-count', 16],
    ['tensor count 2^64-1', writeRaw({ nTensors: 2n ** 64n - 1n }), 'bad-count', 8],
    ['key length 2^63', (() => { const b = writeRaw({ kv: [['a', gv.u32(1)]] }); new DataView(b.buffer).setBigUint64(24, 2n ** 63n, true); return b; })(), 'bad-count', 24],
    // key "a" is 8 + 1 bytes, so the type is at 33.
    ['value type 13', writeRaw({ kv: [['a', { type: 13 as GGUFValueType, value: 0 }]] }), 'bad-value-type', 33],
    ['array of arrays', writeRaw({ kv: [['a', { type: GGUFValueType.ARRAY, itemType: GGUFValueType.ARRAY, value: [] }]] }), 'bad-value-type', 37],
    ['bool stored as 2', writeRaw({ kv: [['a', gv.bool(2 as unknown as boolean)]] }), 'bad-value-type', 37],
    ['key not UTF-8', (() => { const b = writeRaw({ kv: [['a', gv.u32(1)]] }); b[32] = 0xff; return b; })(), 'bad-string', 32],
    ['tensor name not UTF-8', (() => { const b = writeRaw({ tensors: [t('x', [8n])], pad: 64 }); b[32] = 0xc3; return b; })(), 'bad-string', 32],
    ['duplicate key', writeRaw({ kv: [['a', gv.u32(1)], ['a', gv.u32(2)]] }), 'duplicate-key', 41],
    ['0 dimensions', writeRaw({ tensors: [t('x', [])] }), 'bad-tensor', 24],
    ['5 dimensions', writeRaw({ tensors: [t('x', [1n, 1n, 1n, 1n, 1n])] }), 'bad-tensor', 24],
    ['a dimension of 0', writeRaw({ tensors: [t('x', [4n, 0n])], pad: 64 }), 'bad-tensor', 45],
    ['2^53 elements', writeRaw({ tensors: [t('x', [2n ** 27n, 2n ** 26n])], pad: 64 }), 'bad-tensor', 45],
    ['unknown GGML type 4', writeRaw({ tensors: [t('x', [32n], 4)], pad: 64 }), 'unsupported-type', 45],
    ['row not whole Q4_K blocks', writeRaw({ tensors: [t('x', [100n], GGMLType.Q4_K)], pad: 64 }), 'bad-tensor', 24],
    ['offset not aligned', writeRaw({ tensors: [t('x', [8n], GGMLType.F32, 4n)], pad: 64 }), 'bad-tensor', 24],
    ['duplicate tensor name', writeRaw({ tensors: [t('x', [8n]), t('x', [8n], GGMLType.F32, 32n)], pad: 128 }), 'bad-tensor', 57],
    ['tensor data past the end', writeRaw({ tensors: [t('x', [1024n])], pad: 64 }), 'truncated', 24],
  ];

  it.each(cases)('%s', async (_label, bytes, code, offset) => {
    const err = await readGGUF(bytesSource(bytes, 'case')).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GGUFError);
    expect((err as GGUFError).code).toBe(code);
    expect((err as GGUFError).offset).toBe(offset);
    expect((err as GGUFError).message).toContain('case: ');
  });

  it('keeps a string value that is not UTF-8, with U+FFFD for the bad byte', async () => {
    const b = writeRaw({ kv: [['a', gv.str('x?y')]] });
    b[b.length - 2] = 0xff; // the "?"
    const g = await readGGUF(bytesSource(b));
    expect(g.metadata.get('a')?.value).toBe('x\uFFFDy');
  });

  it('refuses a header beyond the size limit when the source does not know its size', async () => {
    // A key length of MAX_HEADER_BYTES: with no size to check against, only the limit stops it.
    const b = writeRaw({ kv: [['a', gv.u32(1)]] });
    new DataView(b.buffer).setBigUint64(24, BigInt(MAX_HEADER_BYTES), true);
    const { src, c } = counting({ ...bytesSource(b), size: async () => undefined });
    await expect(readGGUF(src)).rejects.toMatchObject({ code: 'too-large' });
    expect(c.bytes).toBeLessThanOrEqual(b.length);
  });

  it('parses a header from a source of unknown size', async () => {
    const bytes = makeModel({ arch: 'llama', nMerges: 20 });
    const g = await readGGUF({ ...bytesSource(bytes), size: async () => undefined });
    const known = await readGGUF(bytesSource(bytes));
    expect(g.tensors).toEqual(known.tensors);
  });
});

// ---- sources ----------------------------------------------------------------------------------

/** A loopback server of one file: honours single `bytes=a-b` ranges (206), or ignores them (200). */
function serve(bytes: Uint8Array, mode: 'ranges' | 'ignore-range' | '404') {
  const stats = { requests: 0, bytesServed: 0 };
  const server = createServer((req, res) => {
    stats.requests++;
    if (mode === '404') { res.writeHead(404).end('not here'); return; }
    const m = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? '');
    if (mode === 'ignore-range' || !m) {
      stats.bytesServed += bytes.length;
      res.writeHead(200, { 'Content-Length': bytes.length }).end(bytes);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] !== undefined ? Number(m[2]) : bytes.length - 1, bytes.length - 1);
    if (start >= bytes.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${bytes.length}` }).end();
      return;
    }
    const body = bytes.subarray(start, end + 1);
    stats.bytesServed += body.length;
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${bytes.length}`, 'Content-Length': body.length }).end(body);
  });
  return { server, stats };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.gguf`;
}

describe('sources', () => {
  // A model whose header (~600 KB of vocabulary) is bigger than the reader's first read (256 KiB)
  // and whose file is several MB, so "only the header" is measurable.
  let big: Uint8Array;
  let bigHeader: number;
  const servers: Server[] = [];
  beforeAll(async () => {
    big = makeModel({ arch: 'qwen2moe', type: GGMLType.Q4_0, nMerges: 30000 });
    bigHeader = (await readGGUF(bytesSource(big))).headerBytes;
  });
  afterAll(() => Promise.all(servers.map((s) => new Promise((ok) => s.close(ok)))));

  it('urlSource reads the header by ranges, fetching about the header and no more', async () => {
    const { server, stats } = serve(big, 'ranges');
    servers.push(server);
    const url = await listen(server);
    const g = await readGGUF(urlSource(url));
    expect(g).toEqual(await readGGUF(bytesSource(big)));
    expect(bigHeader).toBeGreaterThan(256 * 1024);
    expect(big.length).toBeGreaterThan(4 * bigHeader);
    // Geometric growth: at most twice the header, plus the 1-byte size probe.
    expect(stats.bytesServed).toBeGreaterThanOrEqual(bigHeader);
    expect(stats.bytesServed).toBeLessThanOrEqual(2 * bigHeader + 1);
    expect(stats.requests).toBeLessThanOrEqual(6);
  });

  it('urlSource refuses a server that ignores Range, without downloading the file', async () => {
    const { server } = serve(big, 'ignore-range');
    servers.push(server);
    const url = await listen(server);
    const err = await readGGUF(urlSource(url)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RangeRequestError);
    expect((err as RangeRequestError).status).toBe(200);
    expect((err as RangeRequestError).url).toBe(url);
  });

  it('urlSource reports a 404 as a RangeRequestError with the status', async () => {
    const { server } = serve(big, '404');
    servers.push(server);
    await expect(readGGUF(urlSource(await listen(server)))).rejects.toMatchObject({ name: 'RangeRequestError', status: 404 });
  });

  it('urlSource reads a file smaller than the first read (the server clamps the range)', async () => {
    const small = makeModel({ arch: 'qwen3', type: GGMLType.Q8_0, nMerges: 20 });
    const { server, stats } = serve(small, 'ranges');
    servers.push(server);
    const g = await readGGUF(urlSource(await listen(server)));
    expect(g).toEqual(await readGGUF(bytesSource(small)));
    expect(stats.bytesServed).toBeLessThanOrEqual(256 * 1024 + 1);
  });

  it('blobSource reads slices of a Blob, header bytes only', async () => {
    const blob = new Blob([big.slice().buffer as ArrayBuffer]);
    const { src, c } = counting(blobSource(blob, 'model.gguf'));
    const g = await readGGUF(src);
    expect(g).toEqual(await readGGUF(bytesSource(big)));
    expect(c.bytes).toBeGreaterThanOrEqual(bigHeader);
    expect(c.bytes).toBeLessThanOrEqual(2 * bigHeader);
  });

  it('a small header costs one read of at most 256 KiB from a large file', async () => {
    const bytes = makeModel({ arch: 'olmoe', type: GGMLType.F32, nMerges: 100 });
    const { src, c } = counting(bytesSource(bytes));
    const g = await readGGUF(src);
    expect(bytes.length).toBeGreaterThan(1 << 20);
    expect(g.headerBytes).toBeLessThan(256 * 1024);
    expect(c.reads).toBe(1);
    expect(c.bytes).toBe(256 * 1024);
  });
});
