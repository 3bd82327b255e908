// Where the CLI keeps downloaded models, and how a command opens a model URL through that store:
// the filesystem store (src/storage/fs.ts) under one directory, chunks checked and resumable as in
// the browser's IndexedDB.
//   directory: --store DIR, else $WEBMOE_STORE, else $XDG_CACHE_HOME/webmoe, else ~/.cache/webmoe
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ModelDownload } from '../fetch/download.ts';
import { openModel } from '../fetch/open.ts';
import { urlSource } from '../fetch/remote-source.ts';
import { fileSource } from '../gguf/source-node.ts';
import type { RangeSource } from '../gguf/source.ts';
import type { DownloadEvent } from '../fetch/progress.ts';
import { fsStore } from '../storage/fs.ts';
import { mb, type ByteStore } from '../storage/store.ts';
import type { CliIO } from './io.ts';

export const STORE_HELP = `  --store DIR          where models are stored (default: $WEBMOE_STORE, else
                       $XDG_CACHE_HOME/webmoe, else ~/.cache/webmoe)`;

/** The store directory for a --store flag value (absolute). */
export function storeDir(flag?: string): string {
  const env = process.env;
  const dir = flag ?? env.WEBMOE_STORE ?? join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'webmoe');
  return resolve(dir);
}

export function openStore(flag?: string): { dir: string; store: ByteStore } {
  const dir = storeDir(flag);
  return { dir, store: fsStore(dir) };
}

export function isUrl(model: string): boolean {
  return /^https?:\/\//i.test(model);
}

/** A path or an http(s) URL, read directly (no store). */
export function openSource(pathOrUrl: string): RangeSource {
  return isUrl(pathOrUrl) ? urlSource(pathOrUrl) : fileSource(pathOrUrl);
}

/** Progress lines on stderr, at most one a second (and on a phase change). */
export function progressPrinter(io: CliIO, label: string): (e: DownloadEvent) => void {
  let last = 0, phase = '';
  return (e) => {
    // Persistence is a browser's promise; the filesystem store always keeps what it wrote.
    if (e.type === 'notice' && e.what !== 'persisted' && e.what !== 'not-persisted') io.err(`${label}: ${e.message}\n`);
    if (e.type !== 'progress' || e.bytesTotal === 0 || e.phase === 'closed') return;
    const now = Date.now();
    if (now - last < 1000 && e.phase === phase) return;
    last = now;
    phase = e.phase;
    const pct = ((100 * e.bytesDone) / e.bytesTotal).toFixed(1);
    const rate = e.rate > 0 ? `, ${mb(e.rate)}/s` : '';
    const eta = e.etaSeconds !== undefined && e.bytesDone < e.bytesTotal ? `, ${Math.ceil(e.etaSeconds)} s left` : '';
    io.err(`${label}: ${e.phase} ${mb(e.bytesDone)} of ${mb(e.bytesTotal)} (${pct}%)${rate}${eta}\n`);
  };
}

/** What a command reports about a model it used from the store. */
export function downloadSummary(dl: ModelDownload, dir: string) {
  const p = dl.progress();
  return {
    id: dl.id, store: dir, complete: dl.complete, bytesStored: p.bytesDone, bytesTotal: p.bytesTotal,
    chunksResumed: p.chunksResumed, bytesFetched: p.bytesFetched,
  };
}

/** A model argument as a RangeSource: a local path as it is; a URL through the store (resumable,
 *  every chunk checked), the rest of the file downloading in the background while the command
 *  reads. Closing the source stops that download; what is stored stays for the next run. */
export async function modelSource(model: string, storeFlag?: string): Promise<{ source: RangeSource; download?: ModelDownload; summary?: () => ReturnType<typeof downloadSummary> }> {
  if (!isUrl(model)) return { source: openSource(model) };
  const { dir, store } = openStore(storeFlag);
  const download = await openModel({ url: model, store });
  // Failures that matter reach the reads that wait for those bytes; the rest resumes next time.
  download.start().catch(() => {});
  const source: RangeSource = { ...download.source(), close: () => download.close() };
  return { source, download, summary: () => downloadSummary(download, dir) };
}
