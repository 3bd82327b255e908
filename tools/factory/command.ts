// `webmoe make-model ...`: the model factory from the command line, a development command that
// bin/webmoe.mjs adds in a checkout. Flags are parsed beside the factory (cli.ts); this writes the
// file and reports what it wrote.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type CliIO, printJson } from '../../src/cli/io.ts';
import type { CommandEntry } from '../../src/cli/main.ts';
import { GGMLType, typeName } from '../../src/gguf/types.ts';
import { MAKE_MODEL_HELP, parseMakeModelArgs } from './cli.ts';
import { makeModel } from './make-model.ts';

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

export const MAKE_MODEL_COMMAND: CommandEntry = {
  summary: 'write a GGUF model of any supported architecture and type, with seeded random weights',
  load: async () => ({ run: makeModelCommand, help: MAKE_MODEL_HELP }),
};
