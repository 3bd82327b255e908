// How the package's files find their worker, WebAssembly and default model (vite.lib.config.ts).
//
// The sources say `new URL('../../wasm/build/tokenizer.wasm', import.meta.url)` and
// `new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module' })`.
// Vite would turn these into hashed assets behind expressions of its own
// (`new URL(/* @vite-ignore */ "" + ..., '' + import.meta.url)`), which the bundler of an app that
// installs the package no longer recognises. This plugin keeps the plain form instead: each such URL
// becomes `new URL("./engine.worker.js", import.meta.url)`, relative to the file it ends up in, and
// names a file at a fixed place in dist/lib/, so Vite, webpack and others bundle the worker and copy
// the .wasm and the model when they build the app, and a plain page that loads the files as they
// are finds them beside the script.
//
// The default model: <webmoe-chat> without `src` loads the catalog's first model. The site reads
// the catalog (public/models/models.json) at run time under its base path; a package cannot know
// where its app serves files, so here src/demo/catalog.ts is replaced by a module that knows that
// one model at build time (its SHA-256 included) and refers to its file by a URL as above.
import { readFileSync } from 'node:fs';
import { dirname, posix, relative, resolve } from 'node:path';
import type { Plugin } from 'vite';
import type { CatalogModel } from '../../src/demo/catalog.ts';

/** Where each file the code refers to by URL goes, relative to dist/. */
const PACKAGE_FILES: Readonly<Record<string, string>> = {
  'workers/engine.worker.ts': 'lib/engine.worker.js', // built by vite.lib.config.ts --mode worker
  'wasm/build/tokenizer.wasm': 'lib/tokenizer.wasm',
  'wasm/build/sampler.wasm': 'lib/sampler.wasm',
  'wasm/build/cpu.wasm': 'lib/cpu.wasm', // the WASM CPU backend's kernels
  'wasm/build/cpu-mt.wasm': 'lib/cpu-mt.wasm', // the same for threads (cross-origin isolated pages)
};
const CATALOG_SOURCE = 'src/demo/catalog.ts';
const CATALOG_JSON = 'public/models/models.json';

/** A call the transform leaves in the code and renderChunk turns into `new URL(path, import.meta.url)`
 *  relative to the output file: its argument is the file's path under dist/. */
const MARK = '__webmoePackageUrl';
const LITERAL_URL = /new\s+URL\(\s*(['"])([^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g;
const MARKED = new RegExp(`${MARK}\\((['"])([^'"]+)\\1\\)`, 'g');
/** The sources hide their Node-only dynamic imports (node:fs, the npm package webgpu) from Vite
 *  with this comment; webpack wants its own. (Minifying would drop both, so lib/ is not minified:
 *  the app's bundler does that.) */
const VITE_IGNORE = '/* @vite-ignore */';

/** The catalog's first model, as the package's default. */
function defaultModel(root: string): CatalogModel {
  const json: { models?: CatalogModel[] } = JSON.parse(readFileSync(resolve(root, CATALOG_JSON), 'utf8'));
  const first = json.models?.[0];
  if (!first) throw new Error(`${CATALOG_JSON} lists no model: the package needs a default one`);
  return first;
}

/** `root`: the repository. Files referred to are emitted into the build (the worker excepted:
 *  its own build writes it). */
export function packageUrls(root: string): Plugin {
  const model = defaultModel(root);
  const modelFile = `lib/models/${model.file}`;
  const catalogId = resolve(root, CATALOG_SOURCE);
  const emitted = new Set<string>();
  return {
    name: 'webmoe:package-urls',
    enforce: 'pre',
    load(id) {
      if (id !== catalogId) return null;
      return [
        '// The package\'s catalog: the site\'s first model, known at build time (tools/build/package.ts).',
        `const model = ${JSON.stringify(model)};`,
        `export async function loadCatalog() { return [{ ...model, url: ${MARK}(${JSON.stringify(modelFile)}).href }]; }`,
      ].join('\n');
    },
    transform(code, id) {
      if (id === catalogId) {
        this.emitFile({ type: 'asset', fileName: modelFile, source: readFileSync(resolve(root, 'public/models', model.file)) });
        return null;
      }
      if (!code.includes('import.meta.url')) return null;
      const out = code.replace(LITERAL_URL, (all, _q: string, path: string) => {
        const source = relative(root, resolve(dirname(id), path)).split('\\').join('/');
        const target = PACKAGE_FILES[source];
        if (!target) this.error(`${relative(root, id)}: ${all} names ${source}, which the package does not ship; add it to PACKAGE_FILES in tools/build/package.ts`);
        if (!source.endsWith('.ts') && !emitted.has(target)) {
          emitted.add(target);
          this.emitFile({ type: 'asset', fileName: target, source: readFileSync(resolve(root, source)) });
        }
        return `${MARK}(${JSON.stringify(target)})`;
      });
      return out === code ? null : { code: out, map: null };
    },
    renderChunk(code, chunk) {
      if (!code.includes(MARK) && !code.includes(VITE_IGNORE)) return null;
      return code.replace(MARKED, (_all, _q: string, target: string) => {
        let path = posix.relative(posix.dirname(chunk.fileName), target);
        if (!path.startsWith('.')) path = `./${path}`;
        return `new URL(${JSON.stringify(path)}, import.meta.url)`;
      }).replaceAll(VITE_IGNORE, `${VITE_IGNORE} /* webpackIgnore: true */`);
    },
  };
}
