// `webmoe models`: the models in the store, complete or not, with their sizes.
import { listModels } from '../storage/models.ts';
import { type CliIO, parseFlags, printJson, UsageError } from './io.ts';
import { openStore, STORE_HELP } from './store.ts';

export const MODELS_HELP = `Usage: webmoe models [--store DIR]

Lists the models in the store, largest first, as JSON: id, url, name, size (bytes of the file),
stored (bytes stored), percent, chunks stored of total, complete, verified (matched a --sha256),
updated (ISO time). An incomplete model resumes with webmoe download URL; webmoe delete ID
removes one.

Options:
${STORE_HELP}
  -h, --help           this text
`;

export async function modelsCommand(argv: string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parseFlags('models', argv, { store: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, true);
  if (v.help) {
    io.out(MODELS_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`models takes no arguments, got "${positionals[0]}"`);
  const { dir, store } = openStore(v.store);
  const models = (await listModels(store)).map((m) => ({
    id: m.id, url: m.url ?? null, name: m.name ?? null, size: m.size ?? null, stored: m.storedBytes,
    percent: m.size ? Math.floor((1000 * m.storedBytes) / m.size) / 10 : null,
    chunks: `${m.chunksStored}/${m.chunksTotal ?? '?'}`, complete: m.complete, verified: m.verified,
    updated: m.updatedAt !== undefined ? new Date(m.updatedAt).toISOString() : null,
  }));
  printJson(io, { store: dir, bytesStored: models.reduce((n, m) => n + m.stored, 0), models });
  return 0;
}
