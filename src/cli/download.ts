// `webmoe download URL`: downloads a GGUF model into the store, chunk by chunk, each checked; an
// interrupted download (Ctrl-C, a dropped link, a crash) resumes where it stopped on the next run.
import { openModel } from '../fetch/open.ts';
import { type CliIO, parseFlags, printJson, UsageError } from './io.ts';
import { downloadSummary, isUrl, openStore, progressPrinter, STORE_HELP } from './store.ts';

export const DOWNLOAD_HELP = `Usage: webmoe download URL [--store DIR] [--sha256 HEX] [--quiet]

Downloads the GGUF file at URL (any http(s) server that answers byte ranges, e.g. a Hugging Face
resolve/ link) into the model store. Chunks are stored with their SHA-256 as they arrive; run the
same command again after an interruption and only the missing chunks are fetched. Prints JSON:
id, url, name, size, chunks, chunks resumed, bytes fetched, seconds, complete, verified.
Progress goes to stderr.

Options:
${STORE_HELP}
  --sha256 HEX         the whole file's SHA-256: checked once every chunk is stored
  --quiet              no progress lines
  -h, --help           this text
`;

export async function downloadCommand(argv: string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parseFlags('download', argv, {
    store: { type: 'string' }, sha256: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  }, true);
  if (v.help) {
    io.out(DOWNLOAD_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('download needs one URL (see: webmoe download --help)');
  const url = positionals[0];
  if (!isUrl(url)) throw new UsageError(`download needs an http(s) URL, got "${url}" (a local file needs no download)`);
  if (v.sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(v.sha256)) throw new UsageError('--sha256 must be 64 hex digits');
  const { dir, store } = openStore(v.store);
  // Ctrl-C stops the requests and saves the manifest: the next run resumes.
  const abort = new AbortController();
  const onSigint = () => abort.abort(new DOMException('interrupted (Ctrl-C); run the same command to resume', 'AbortError'));
  process.once('SIGINT', onSigint);
  const t0 = performance.now();
  try {
    const dl = await openModel({
      url, store, sha256: v.sha256, signal: abort.signal,
      onEvent: v.quiet ? undefined : progressPrinter(io, 'webmoe download'),
    });
    try {
      await dl.start();
    } finally {
      await dl.close().catch(() => {});
    }
    const name = dl.file.metadata.get('general.name')?.value;
    printJson(io, {
      url, name: typeof name === 'string' ? name : null, size: dl.size, chunks: dl.chunks.length,
      ...downloadSummary(dl, dir), verified: dl.manifest.verified, seconds: Math.round(performance.now() - t0) / 1000,
    });
    return 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
