// Node module-loader hooks that give `import text from './x.wgsl?raw'` the meaning Vite gives it
// (the file's text as the default export), so shader modules written for the browser bundle also
// run under Node through bin/*.mjs. Registered by bin/register.mjs; runs on Node's loader thread.
import { readFile } from 'node:fs/promises';

const RAW = '?raw';

/** @type {import('node:module').ResolveHook} */
export async function resolve(specifier, context, nextResolve) {
  if (!specifier.endsWith(RAW)) return nextResolve(specifier, context);
  // Resolve the bare path with the rest of the chain (relative, absolute or package path),
  // then keep the marker on the URL for load() below.
  const resolved = await nextResolve(specifier.slice(0, -RAW.length), context);
  return { url: resolved.url + RAW, format: 'module', shortCircuit: true };
}

/** @type {import('node:module').LoadHook} */
export async function load(url, context, nextLoad) {
  if (!url.endsWith(RAW)) return nextLoad(url, context);
  const text = await readFile(new URL(url.slice(0, -RAW.length)), 'utf8');
  return { format: 'module', source: `export default ${JSON.stringify(text)};\n`, shortCircuit: true };
}
