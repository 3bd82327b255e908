// A fault-injecting HTTP server for the download tests, on loopback only. It serves byte ranges of
// in-memory files and, per file and seeded, misbehaves as real servers and networks do: connections
// dropped mid-body, 500/503/429 (+ Retry-After), slow and stalled bodies, truncated bodies, no Range
// support, a wrong Content-Range, and the file replaced mid-download. It counts every body byte it
// sends, so tests can check what a resumed download fetched again.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../factory/make-model.ts';

export interface FaultConfig {
  /** Seed of this file's fault draws. */
  seed?: number;
  /** Per-request probabilities in [0, 1]; at most one fault per request. */
  drop?: number; // destroy the connection after a random part of the body
  status500?: number;
  status503?: number;
  status429?: number;
  /** Retry-After sent with 429 and 503 (delta-seconds or an HTTP-date); none when undefined. */
  retryAfter?: string;
  truncate?: number; // end the body early: half the time cleanly (chunked), half with Content-Length unmet
  slow?: number; // the body in small pieces with pauses
  slowPauseMs?: number;
  stall?: number; // part of the body, then silence until the client gives up
  wrongRange?: number; // bytes and Content-Range of a shifted range
  /** Every GET answers 200 with the whole file. */
  noRange?: boolean;
  /** After this many body bytes of this file were sent, it is replaced by `replacement`. */
  replaceAfterBytes?: number;
  replacement?: Uint8Array;
  /** Body rate cap for this file, bytes/s (all its responses share it). */
  rate?: number;
  /** Send validators (default true); a server without them can only be caught changing by length. */
  etag?: boolean;
  lastModified?: boolean;
  /** Answer cross-origin requests (default true). */
  cors?: boolean;
  /** With cors, list Content-Range and ETag in Access-Control-Expose-Headers (default true). */
  expose?: boolean;
}

export interface RequestLog {
  path: string;
  range: string | null;
  status: number;
  fault?: string;
  /** Body bytes written. */
  bytes: number;
  /** ms since the server started. */
  t: number;
  /** Version of the file served (0 = the original). */
  version: number;
  /** The request's X-Test-Tag header: tests mark which session sent it (a request can reach the
   *  server after its client gave up on it). */
  tag?: string;
}

interface Served {
  bytes: Uint8Array;
  version: number;
  config: FaultConfig;
  rng: ReturnType<typeof seededRandom>;
  sent: number;
  active: number;
  peak: number;
  /** Time (ms) when the rate limiter lets the next byte go. */
  nextFree: number;
}

export interface FaultServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  url(path: string): string;
  /** Serves `bytes` at `path` (starting with '/'), with `config`. */
  serve(path: string, bytes: Uint8Array, config?: FaultConfig): void;
  configure(path: string, config: FaultConfig): void;
  /** Every request so far, in order of arrival. */
  log: RequestLog[];
  /** Body bytes sent (all files, or one). */
  bytesSent(path?: string): number;
  /** Most responses of one file in progress at the same time. */
  peakConcurrent(path: string): number;
  faults(path?: string): Record<string, number>;
  reset(): void;
  close(): Promise<void>;
}

const EXPOSE = 'Content-Range, Content-Length, ETag, Last-Modified, Accept-Ranges, Retry-After';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFaultServer(opts: { port?: number } = {}): Promise<FaultServer> {
  const files = new Map<string, Served>();
  const log: RequestLog[] = [];
  const t0 = Date.now();
  const open = new Set<ServerResponse>();

  const etagOf = (f: Served) => `"v${f.version}-${f.bytes.length}"`;
  const lastModifiedOf = (f: Served) => new Date(Date.UTC(2024, 0, 1) + f.version * 60_000).toUTCString();

  /** Writes body bytes with the file's rate cap; stops if the client went away. */
  const writeBody = async (res: ServerResponse, f: Served, body: Uint8Array, entry: RequestLog, pieceMs = 0, piece = 0) => {
    const rate = f.config.rate;
    const size = piece || (rate ? Math.max(1024, Math.floor(rate / 50)) : body.length);
    for (let at = 0; at < body.length; at += size) {
      if (res.destroyed) return;
      const part = body.subarray(at, Math.min(body.length, at + size));
      if (rate) {
        const now = Date.now();
        const start = Math.max(now, f.nextFree);
        f.nextFree = start + (part.length * 1000) / rate;
        if (start > now) await sleep(start - now);
        if (res.destroyed) return;
      }
      if (pieceMs) await sleep(pieceMs);
      const ok = res.write(part);
      entry.bytes += part.length;
      f.sent += part.length;
      if (!ok) {
        await new Promise<void>((r) => {
          const go = () => (res.off('drain', go), res.off('close', go), r()); // no listener left behind per wait
          res.once('drain', go).once('close', go);
        });
      }
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const f = files.get(path);
    const cors = f?.config.cors ?? true;
    if (cors) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      if (f?.config.expose ?? true) res.setHeader('Access-Control-Expose-Headers', EXPOSE);
    }
    if (req.method === 'OPTIONS') {
      if (cors) {
        res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD');
        res.setHeader('Access-Control-Allow-Headers', 'Range, Authorization, X-Test-Tag');
      }
      res.writeHead(204).end();
      return;
    }
    const range = req.headers.range ?? null;
    const tag = req.headers['x-test-tag'];
    const entry: RequestLog = { path, range, status: 0, bytes: 0, t: Date.now() - t0, version: f?.version ?? -1, tag: typeof tag === 'string' ? tag : undefined };
    log.push(entry);
    if (!f || (req.method !== 'GET' && req.method !== 'HEAD')) {
      entry.status = f ? 405 : 404;
      res.writeHead(entry.status).end();
      return;
    }
    f.active++;
    f.peak = Math.max(f.peak, f.active);
    res.on('close', () => f.active--);
    const c = f.config;
    if (c.replacement && c.replaceAfterBytes !== undefined && f.sent >= c.replaceAfterBytes && f.version === 0) {
      f.bytes = c.replacement;
      f.version = 1;
      entry.version = 1;
    }
    const size = f.bytes.length;
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    if (c.etag ?? true) headers.ETag = etagOf(f);
    if (c.lastModified ?? true) headers['Last-Modified'] = lastModifiedOf(f);

    // One fault per request, drawn from the seeded stream in a fixed order.
    let fault: string | undefined;
    if (req.method === 'GET') {
      let r = f.rng.uniform();
      for (const name of ['status500', 'status503', 'status429', 'drop', 'truncate', 'slow', 'stall', 'wrongRange'] as const) {
        const p = c[name] ?? 0;
        if (r < p) {
          fault = name;
          break;
        }
        r -= p;
      }
    }
    entry.fault = fault;
    if (fault === 'status500' || fault === 'status503' || fault === 'status429') {
      entry.status = Number(fault.slice(6));
      const h: Record<string, string> = { 'Content-Type': 'text/plain' };
      if (fault !== 'status500' && c.retryAfter !== undefined) h['Retry-After'] = c.retryAfter;
      res.writeHead(entry.status, h).end(`injected ${entry.status}`);
      return;
    }

    let first = 0, last = size - 1, status = 200;
    const m = range && !c.noRange ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
    if (m) {
      if (m[1] === '') {
        first = Math.max(0, size - Number(m[2]));
      } else {
        first = Number(m[1]);
        last = m[2] === '' ? size - 1 : Math.min(size - 1, Number(m[2]));
      }
      if (first >= size || first > last) {
        entry.status = 416;
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      if (fault === 'wrongRange') {
        const shift = 1 + Math.floor(f.rng.uniform() * 4096);
        first = Math.min(size - 1, first + shift);
        last = Math.min(size - 1, last + shift);
      }
      headers['Content-Range'] = `bytes ${first}-${last}/${size}`;
    }
    entry.status = status;
    const body = f.bytes.subarray(first, last + 1);
    if (req.method === 'HEAD') {
      res.writeHead(status, { ...headers, 'Content-Length': String(body.length) }).end();
      return;
    }
    if (fault === 'truncate' && f.rng.uniform() < 0.5) {
      // Chunked encoding: the body just ends early, and HTTP has no way to tell the client.
      res.writeHead(status, headers);
      await writeBody(res, f, body.subarray(0, Math.floor(f.rng.uniform() * body.length)), entry);
      if (!res.destroyed) res.end();
      return;
    }
    res.writeHead(status, { ...headers, 'Content-Length': String(body.length) });
    if (fault === 'drop' || fault === 'truncate') {
      await writeBody(res, f, body.subarray(0, Math.floor(f.rng.uniform() * body.length)), entry);
      await sleep(2); // let the bytes leave before the reset
      res.destroy();
      return;
    }
    if (fault === 'stall') {
      await writeBody(res, f, body.subarray(0, Math.floor(f.rng.uniform() * body.length)), entry);
      return; // left open: the client's stall timeout ends it (or close() does)
    }
    if (fault === 'slow') {
      await writeBody(res, f, body, entry, c.slowPauseMs ?? 1, 4096);
    } else {
      await writeBody(res, f, body, entry);
    }
    if (!res.destroyed) res.end();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      console.error('faultserver:', e);
      res.destroy();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve); // loopback only
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const count = (path?: string) => (e: RequestLog) => path === undefined || e.path === path;
  return {
    origin,
    url: (path) => origin + path,
    serve(path, bytes, config = {}) {
      files.set(path, { bytes, version: 0, config, rng: seededRandom(config.seed ?? 1), sent: 0, active: 0, peak: 0, nextFree: 0 });
    },
    configure(path, config) {
      const f = files.get(path);
      if (!f) throw new Error(`faultserver: nothing served at ${path}`);
      f.config = config;
      f.rng = seededRandom(config.seed ?? 1);
    },
    log,
    bytesSent: (path) => log.filter(count(path)).reduce((n, e) => n + e.bytes, 0),
    peakConcurrent: (path) => files.get(path)?.peak ?? 0,
    faults(path) {
      const out: Record<string, number> = {};
      for (const e of log.filter(count(path))) if (e.fault) out[e.fault] = (out[e.fault] ?? 0) + 1;
      return out;
    },
    reset() {
      log.length = 0;
    },
    close: async () => {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
