// Serves bytes held in the test process at a URL pattern of a page, with single byte ranges as a
// static host does (the engine worker downloads models by range).
import type { Page } from '@playwright/test';

/** Answers requests matching `match` (a glob, or a test of the URL) with the bytes `find` gives
 *  for their URL (404 for none). */
export async function serveBytes(page: Page, match: string | ((url: URL) => boolean), find: (url: URL) => Uint8Array | undefined, extraHeaders: Record<string, string> = {}): Promise<void> {
  await page.route(match, async (route) => {
    const bytes = find(new URL(route.request().url()));
    if (!bytes) return route.fulfill({ status: 404 });
    const m = /^bytes=(\d+)-(\d*)$/.exec(route.request().headers().range ?? '');
    const headers = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', ...extraHeaders };
    if (!m) return route.fulfill({ status: 200, headers, body: Buffer.from(bytes) });
    const start = Number(m[1]), end = Math.min(m[2] ? Number(m[2]) : bytes.length - 1, bytes.length - 1);
    await route.fulfill({ status: 206, headers: { ...headers, 'content-range': `bytes ${start}-${end}/${bytes.length}` }, body: Buffer.from(bytes.subarray(start, end + 1)) });
  });
}
