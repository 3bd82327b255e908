// `webmoe delete ID|URL`: removes a stored model (its manifest first, then its chunks).
import { modelId } from '../storage/manifest.ts';
import { deleteModel, listModels } from '../storage/models.ts';
import { type CliIO, parseFlags, printJson, UsageError } from './io.ts';
import { isUrl, openStore, STORE_HELP } from './store.ts';

export const DELETE_HELP = `Usage: webmoe delete ID|URL [--store DIR]

Deletes a stored model, complete or not, given its id (from webmoe models) or the URL it was
downloaded from. Prints JSON: id, url, bytes freed.

Options:
${STORE_HELP}
  -h, --help           this text
`;

/** No stored model has that id or URL. */
export class ModelNotStoredError extends Error {
  override name = 'ModelNotStoredError';
  readonly code = 'not-stored';
}

export async function deleteCommand(argv: string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parseFlags('delete', argv, { store: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, true);
  if (v.help) {
    io.out(DELETE_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('delete needs one model id or URL (see: webmoe models)');
  const { dir, store } = openStore(v.store);
  const target = positionals[0];
  const id = isUrl(target) ? await modelId(target) : target;
  const m = (await listModels(store)).find((x) => x.id === id);
  if (!m) throw new ModelNotStoredError(`no model ${target} in ${dir}; webmoe models --store ${dir} lists them`);
  await deleteModel(store, m.id);
  printJson(io, { id: m.id, url: m.url ?? null, bytesFreed: m.storedBytes });
  return 0;
}
