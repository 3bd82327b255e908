#!/usr/bin/env node
// The `webmoe` command. The CLI itself is TypeScript (src/cli/main.ts, exporting
// `main(argv: string[]): Promise<number | void>`); this file only makes Node able to run it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import './register.mjs';

const mainUrl = new URL('../src/cli/main.ts', import.meta.url);
if (!existsSync(fileURLToPath(mainUrl))) {
  console.error(
    `webmoe: the CLI is not there yet: ${fileURLToPath(mainUrl)} is missing. ` +
      'Update your checkout (git pull); the library and tests work without it.',
  );
  process.exit(1);
}

const cli = await import(mainUrl.href);
if (typeof cli.main !== 'function') {
  console.error(`webmoe: ${fileURLToPath(mainUrl)} does not export a function main(argv).`);
  process.exit(1);
}
// In a checkout, the development commands (make-model) from tools/ join the library's.
const devUrl = new URL('../tools/factory/command.ts', import.meta.url);
const commands = existsSync(fileURLToPath(devUrl))
  ? { ...cli.COMMANDS, 'make-model': (await import(devUrl.href)).MAKE_MODEL_COMMAND }
  : cli.COMMANDS;
try {
  const code = await cli.main(process.argv.slice(2), undefined, commands);
  if (typeof code === 'number') process.exitCode = code;
} catch (err) {
  // Say what went wrong in one line; the stack only on request, since these are user-facing.
  const e = err instanceof Error ? err : new Error(String(err));
  console.error(`webmoe: ${e.name}: ${e.message}`);
  if (process.env.WEBMOE_DEBUG) console.error(e.stack);
  process.exitCode = 1;
}
