#!/usr/bin/env node
// Run a TypeScript file under Node: `node bin/run-ts.mjs path/to/file.ts [args...]`.
// The file sees process.argv as if started with `node file.ts args...`.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import './register.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bin/run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
const path = resolve(file);
if (!existsSync(path)) {
  console.error(`run-ts: ${path} does not exist`);
  process.exit(2);
}
process.argv.splice(1, 2, path);
await import(pathToFileURL(path).href);
