// A loopback HTTP server for files on disk, however large: byte ranges read from the file (never
// the whole file in memory), validators (ETag, Last-Modified), CORS, and a count of body bytes
// sent. The scale benchmark serves its ~18 GB model with it.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FileServer {
  url: string;
  /** Body bytes sent so far. */
  bytesSent(): number;
  close(): Promise<void>;
}

export async function serveFile(path: string): Promise<FileServer> {
  const st = statSync(path);
  const size = st.size;
  const etag = `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  let sent = 0;
  const server = createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, ETag, Content-Length');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', st.mtime.toUTCString());
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(size - 1, m[2] ? Number(m[2]) : size - 1);
    if (start > end) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1, 'Content-Type': 'application/octet-stream' });
    if (req.method === 'HEAD') { res.end(); return; }
    const stream = createReadStream(path, { start, end, highWaterMark: 1 << 20 });
    stream.on('data', (c) => { sent += c.length; });
    stream.pipe(res);
    res.on('close', () => stream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${path.split('/').pop()}`,
    bytesSent: () => sent,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
