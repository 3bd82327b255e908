// A static file server for the e2e tests of built sites (pwa.spec.ts, package.spec.ts), as a
// plain host serves them: files as they are, 404 for what is missing, single byte ranges (the
// engine downloads models by range), ETag and Last-Modified, `Cache-Control: no-cache`. The folder
// it serves can change while it runs (a new deployment at the same origin), and it logs every
// request, so a test can tell what reached the network.
import { createReadStream, statSync, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm', '.png': 'image/png', '.svg': 'image/svg+xml', '.gguf': 'application/octet-stream',
};

export interface Logged {
  path: string;
  range?: string;
  /** 0: the connection was dropped (`down`). */
  status: number;
  /** Body bytes sent. */
  bytes: number;
}

export interface StaticServer {
  readonly origin: string;
  /** The folder served; change it to deploy another build at the same origin. */
  root: string;
  /** While true, every request is logged and its connection dropped unanswered, as when the
   *  network is gone (Playwright's setOffline misses some of the browser's own requests, such as
   *  the service worker update check). */
  down: boolean;
  /** Extra response headers for paths that match (e.g. a Content-Security-Policy). */
  headers: { match: RegExp; headers: Record<string, string> }[];
  log: Logged[];
  close(): Promise<void>;
}

/** Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` against `size`: [start, end] inclusive, or
 *  'bad' for a range that cannot be satisfied. Several ranges are not needed here. */
function parseRange(header: string, size: number): [number, number] | 'bad' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  if (m[1] === '') {
    const n = Number(m[2]);
    return n === 0 ? 'bad' : [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start > end || start >= size ? 'bad' : [start, end];
}

export async function startStaticServer(root: string): Promise<StaticServer> {
  const state: Omit<StaticServer, 'origin' | 'close'> = { root, down: false, headers: [], log: [] };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const entry: Logged = { path: url.pathname, status: 200, bytes: 0, ...(req.headers.range && { range: req.headers.range }) };
    state.log.push(entry);
    if (state.down) {
      entry.status = 0;
      return void req.socket.destroy();
    }
    const send = (status: number, headers: Record<string, string | number>, body?: { file: string; start: number; end: number }) => {
      entry.status = status;
      for (const h of state.headers) if (h.match.test(url.pathname)) Object.assign(headers, h.headers);
      res.writeHead(status, headers);
      if (!body || req.method === 'HEAD') return void res.end();
      entry.bytes = body.end - body.start + 1;
      createReadStream(body.file, { start: body.start, end: body.end }).pipe(res);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { allow: 'GET, HEAD' });

    let rel: string;
    try {
      rel = normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '');
    } catch {
      return send(400, {});
    }
    if (rel.split(sep).includes('..')) return send(403, {});
    let file = join(state.root, rel);
    let st: Stats | undefined = statSync(file, { throwIfNoEntry: false });
    if (st?.isDirectory()) {
      file = join(file, 'index.html');
      st = statSync(file, { throwIfNoEntry: false });
    }
    if (!st?.isFile()) return send(404, { 'content-type': 'text/plain' });

    const headers: Record<string, string | number> = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
      'accept-ranges': 'bytes',
      etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
      'last-modified': st.mtime.toUTCString(),
    };
    if (!req.headers.range) return send(200, { ...headers, 'content-length': st.size }, { file, start: 0, end: st.size - 1 });
    const range = parseRange(req.headers.range, st.size);
    if (range === 'bad') return send(416, { ...headers, 'content-range': `bytes */${st.size}` });
    const [start, end] = range;
    send(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${st.size}` }, { file, start, end });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}
