// The `webmoe` command line (run by bin/webmoe.mjs). Each command lives in its own file and is
// imported only when it runs, so `inspect` never loads the factory's vocabulary files.
// Errors become one line on stderr and a non-zero exit code; `--debug` (or WEBMOE_DEBUG=1) adds
// the stack.
import { readFileSync } from 'node:fs';
import { type CliIO, processIO, UsageError } from './io.ts';

type Command = (argv: string[], io: CliIO) => Promise<number>;
export interface CommandEntry {
  summary: string;
  load: () => Promise<{ run: Command; help: string }>;
}

/** The library's commands. A checkout adds its development ones (tools/factory/command.ts:
 *  make-model) through bin/webmoe.mjs; the library never imports tools/. */
export const COMMANDS: Record<string, CommandEntry> = {
  inspect: {
    summary: 'print what a GGUF file is (architecture, sizes, experts, tensors), from its header only',
    load: async () => { const m = await import('./inspect.ts'); return { run: m.inspectCommand, help: m.INSPECT_HELP }; },
  },
  generate: {
    summary: 'generate text or token ids from a prompt (WebGPU engine or CPU reference; greedy or sampled)',
    load: async () => { const m = await import('./generate.ts'); return { run: m.generateCommand, help: m.GENERATE_HELP }; },
  },
  tokenize: {
    summary: 'print the token ids of a text with a model\'s vocabulary (as llama.cpp tokenizes)',
    load: async () => { const m = await import('./tokenize.ts'); return { run: m.tokenizeCommand, help: m.TOKENIZE_HELP }; },
  },
  download: {
    summary: 'download a model URL into the store (resumable, every chunk checked)',
    load: async () => { const m = await import('./download.ts'); return { run: m.downloadCommand, help: m.DOWNLOAD_HELP }; },
  },
  models: {
    summary: 'list the stored models with their sizes and completeness',
    load: async () => { const m = await import('./models.ts'); return { run: m.modelsCommand, help: m.MODELS_HELP }; },
  },
  delete: {
    summary: 'delete a stored model by id or URL',
    load: async () => { const m = await import('./delete.ts'); return { run: m.deleteCommand, help: m.DELETE_HELP }; },
  },
};

export const helpText = (commands: Record<string, CommandEntry>) => `Usage: webmoe COMMAND [options]

Runs LLMs, Mixture-of-Experts above all, from GGUF files (local paths or URLs serving byte ranges).

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`).join('\n')}
  ${'help COMMAND'.padEnd(12)} a command's options (also: webmoe COMMAND --help)

Global options:
  --debug        print the stack trace of an error (also: WEBMOE_DEBUG=1)
  -h, --help     this text
  -v, --version  the version of webmoe
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code:
 *  0 success, 1 the command failed, 2 the command line is wrong. */
export async function main(argv: string[], io: CliIO = processIO, commands: Record<string, CommandEntry> = COMMANDS): Promise<number> {
  const HELP = helpText(commands);
  const debug = argv.includes('--debug') || !!process.env.WEBMOE_DEBUG;
  const args = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = args;
  try {
    if (name === undefined) {
      io.err(HELP);
      return 2;
    }
    if (name === '--help' || name === '-h') {
      io.out(HELP);
      return 0;
    }
    if (name === '--version' || name === '-v') {
      io.out(version() + '\n');
      return 0;
    }
    if (name === 'help') {
      const topic = rest[0];
      if (topic === undefined) {
        io.out(HELP);
        return 0;
      }
      const c = commands[topic];
      if (!c) throw new UsageError(`no command "${topic}"; commands: ${Object.keys(commands).join(', ')}`);
      io.out((await c.load()).help);
      return 0;
    }
    const c = commands[name];
    if (!c) throw new UsageError(`no command "${name}"; commands: ${Object.keys(commands).join(', ')} (see: webmoe --help)`);
    return await (await c.load()).run(rest, io);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as { code?: unknown }).code;
    // Named errors carry their class (GGUFError, ModelFormatError, ...) and a code when they have one.
    // Node's system errors (ENOENT, EACCES...) are plain Errors whose message starts with the code.
    const label = e.name === 'Error' ? '' : `${e.name}${typeof code === 'string' ? ` [${code}]` : ''}: `;
    io.err(`webmoe${name && commands[name] ? ' ' + name : ''}: ${label}${e.message}\n`);
    if (debug && e.stack) io.err(e.stack + '\n');
    return e instanceof UsageError ? 2 : 1;
  }
}
