// Runs every benchmark module in tools/bench/ (each default-exports an async function returning a
// JSON-able result) and prints one JSON object keyed by module name. Progress goes to stderr.
// Modules that export `explicitOnly = true` (multi-GB ones) run only when named.
//   npm run bench [-- NAME ...]   (only the named modules)
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'main.ts' && f !== 'file-server.ts' && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();

const results: Record<string, unknown> = {};
for (const name of names) {
  process.stderr.write(`bench: ${name}\n`);
  const mod = (await import(pathToFileURL(join(dir, `${name}.ts`)).href)) as { default?: () => Promise<unknown>; explicitOnly?: boolean };
  if (mod.explicitOnly && !only.includes(name)) continue;
  if (typeof mod.default !== 'function') {
    results[name] = { error: 'no default export function' };
    continue;
  }
  try {
    results[name] = await mod.default();
  } catch (e) {
    results[name] = { error: e instanceof Error ? e.message : String(e) };
  }
}
process.stdout.write(JSON.stringify(results, null, 2) + '\n');
