// `webmoe make-model ...`: the model factory from the command line. Flags are parsed beside the
// factory (tools/factory/cli.ts); this writes the file and reports what it wrote.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { GGMLType, typeName } from '../gguf/types.ts';
import { MAKE_MODEL_HELP, parseMakeModelArgs } from '../../tools/factory/cli.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { type CliIO, printJson } from './io.ts';

export async function makeModelCommand(argv: string[], io: CliIO): Promise<number> {
  const { options, out, help } = parseMakeModelArgs(argv);
  if (help) {
    io.out(MAKE_MODEL_HELP);
    return 0;
  }
  const bytes = makeModel(options);
  const path = resolve(out);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  printJson(io, {
    path,
    bytes: bytes.length,
    arch: options.arch,
    type: typeName(options.type ?? GGMLType.F32),
    seed: options.seed,
    tied: options.tied ?? false,
    ggufVersion: options.version ?? 3,
    alignment: options.alignment ?? 32,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  });
  return 0;
}
