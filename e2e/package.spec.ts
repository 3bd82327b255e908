// WebMoE as an npm package, as someone else's app gets it: `npm pack` (its prepack builds the
// package: vite.lib.config.ts, tsconfig.lib.json) gives a tarball of dist/lib/ and
// dist/webmoe-chat.js only; a fresh Vite app in a temp folder installs it offline, imports `webmoe`
// and `webmoe/chat`, type-checks against the package's .d.ts and builds with no configuration and
// nothing copied by hand; in Chromium its <webmoe-chat> (the packaged default model) answers and
// `WebMoE.load` + `generate` give the CPU reference's greedy tokens. Then the standalone
// dist/webmoe-chat.js, copied beside a page that holds only its script tag and the element, under
// the strict CSP of the element's README, answers too.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import type { GenerationResult } from '../src/client/protocol.ts';
import { E2EReference } from './reference.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL = 'webmoe-tiny-moe.q8_0.gguf';
const bytes = new Uint8Array(readFileSync(join(ROOT, 'public/models', MODEL)));
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; worker-src 'self'; connect-src 'self'";
const NODE = process.execPath;
const VITE = join(ROOT, 'node_modules/vite/bin/vite.js');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

let tmp: string;
let tarball: string;
let ref: E2EReference;
const times: Record<string, number> = {};

function timed<T>(name: string, f: () => T): T {
  const t0 = Date.now();
  try {
    return f();
  } finally {
    times[name] = Date.now() - t0;
  }
}

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });

test.beforeAll(async () => {
  test.setTimeout(300_000);
  tmp = mkdtempSync(join(tmpdir(), 'webmoe-package-'));
  timed('packMs', () => run('npm', ['pack', '--pack-destination', tmp], ROOT));
  const packed = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  expect(packed).toHaveLength(1);
  tarball = join(tmp, packed[0]!);
  times.tarballBytes = statSync(tarball).size;
  ref = await E2EReference.load(bytes);
});

test.afterAll(() => {
  ref?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
});

/** Every file under `dir`, relative to it. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name), base) : [join(dir, e.name).slice(base.length + 1)]);
}

// ---- the consumer app ----

const APP_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>an app that uses webmoe</title></head>
<body>
  <webmoe-chat max-tokens="24" temperature="0" repeat-penalty="1"></webmoe-chat>
  <script type="module" src="/main.ts"></script>
</body>
</html>
`;

// The app's code, type-checked against the package's declarations (were the package's types
// missing or any, the expect-error line below would be unused, which tsc reports).
const APP_MAIN = `import { WebMoE, type GenerationResult, type StoredModel } from 'webmoe';
import { WebMoEChat } from 'webmoe/chat';

interface AppResult { chat: GenerationResult; api: GenerationResult; apiText: string; stored: StoredModel[] }
declare global { interface Window { appResult: Promise<AppResult | { error: string }> } }

async function main(): Promise<AppResult> {
  const el = document.querySelector('webmoe-chat');
  if (!(el instanceof WebMoEChat)) throw new Error('<webmoe-chat> is not defined');
  const chat = await el.send('Hello there');
  const stored = await WebMoE.listModels();
  const llm = await WebMoE.load(stored[0]!.url!);
  // @ts-expect-error a prompt is a string or token ids
  llm.generate({ text: 'no' });
  const gen = llm.generate('Once upon a time', { maxTokens: 24, temperature: 0 });
  let apiText = '';
  for await (const chunk of gen) apiText += chunk.text;
  const api = await gen.result;
  await llm.unload();
  return { chat, api, apiText, stored };
}
window.appResult = main().catch((e: Error) => ({ error: \`\${e.name}: \${e.message}\` }));
`;

const APP_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM', 'DOM.Iterable'],
    strict: true, noEmit: true, skipLibCheck: true, types: [],
  },
  include: ['main.ts'],
};

async function appResult(page: Page): Promise<{ chat: GenerationResult; api: GenerationResult; apiText: string; stored: { url?: string; complete: boolean }[] }> {
  const r = await page.evaluate(() => (window as unknown as { appResult: Promise<unknown> }).appResult);
  if (typeof r === 'object' && r !== null && 'error' in r) throw new Error(`the app failed: ${String(r.error)}`);
  return r as { chat: GenerationResult; api: GenerationResult; apiText: string; stored: { url?: string; complete: boolean }[] };
}

test('npm pack gives a tarball without tests, tools or other models', () => {
  const files = run('tar', ['tzf', tarball], tmp).trim().split('\n').map((f) => f.replace(/^package\//, ''));
  console.log(`e2e package: ${files.length} files, ${times.tarballBytes} bytes packed`);
  for (const f of ['package.json', 'README.md', 'dist/webmoe-chat.js', 'dist/lib/index.js', 'dist/lib/chat.js', 'dist/lib/engine.worker.js',
    'dist/lib/tokenizer.wasm', 'dist/lib/sampler.wasm', 'dist/lib/cpu.wasm', 'dist/lib/cpu-mt.wasm', `dist/lib/models/${MODEL}`, 'dist/lib/types/src/client/index.d.ts', 'dist/lib/types/src/chat/index.d.ts']) {
    expect(files, f).toContain(f);
  }
  expect(files.filter((f) => f.endsWith('.gguf'))).toEqual([`dist/lib/models/${MODEL}`]);
  expect(files.filter((f) => /\.(test|spec)\.|^(src|e2e|tools|workers|wasm|public|shaders|scripts|bin)\//.test(f))).toEqual([]);
  expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  const pkg: { dependencies?: object; exports: Record<string, unknown> } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  expect(pkg.dependencies ?? {}).toEqual({}); // everything the files need is bundled in them
  expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining(['.', './chat']));
});

test('a fresh Vite app installs the tarball offline, imports webmoe and webmoe/chat, builds, and generates in Chromium', async ({ browser }) => {
  test.setTimeout(300_000);
  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'webmoe-consumer', private: true, type: 'module' }, null, 2));
  writeFileSync(join(app, 'index.html'), APP_HTML);
  writeFileSync(join(app, 'main.ts'), APP_MAIN);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(APP_TSCONFIG, null, 2));
  timed('installMs', () => run('npm', ['install', tarball, '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], app));
  timed('typecheckMs', () => run(NODE, [TSC, '-p', 'tsconfig.json'], app));
  timed('appBuildMs', () => run(NODE, [VITE, 'build', '--logLevel', 'warn'], app)); // vite from this repo
  const built = walk(join(app, 'dist'));
  // The app's bundler found the worker, the four .wasm (tokenizer, sampler, the WASM backend's
  // cpu and cpu-mt) and the default model through the package's new URL(..., import.meta.url) and emitted them.
  expect(built.filter((f) => f.endsWith('.wasm'))).toHaveLength(4);
  expect(built.filter((f) => f.endsWith('.gguf'))).toHaveLength(1);
  expect(built.some((f) => /engine\.worker.*\.js$/.test(f))).toBe(true);

  const server = await startStaticServer(join(app, 'dist'));
  const context = await browser.newContext({ baseURL: server.origin });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const t0 = Date.now();
    await page.goto('/');
    const r = await appResult(page);
    times.appRunMs = Date.now() - t0;
    // the element: the packaged default model, greedy, its prompt in the model's chat template
    expect(r.chat.ids.length).toBeGreaterThan(0);
    expect(r.chat.ids).toEqual(ref.greedy(r.chat.promptIds, 24));
    await expect(page.locator('webmoe-chat').locator('[part~="assistant"] .text')).toHaveText(ref.decode(r.chat.ids).trimStart());
    // the API on the model the element stored: from IndexedDB, the reference's tokens
    expect(r.stored).toHaveLength(1);
    expect(r.stored[0]!.complete).toBe(true);
    expect(r.api.promptIds).toEqual(ref.encode('Once upon a time'));
    expect(r.api.ids).toEqual(ref.greedy(r.api.promptIds, 24));
    expect(r.apiText).toBe(ref.decode(r.api.ids));
    expect(server.log.filter((l) => l.path.endsWith('.gguf')).reduce((n, l) => n + l.bytes, 0)).toBeLessThan(bytes.length * 1.1);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
    await server.close();
  }
});

test('the standalone webmoe-chat.js, copied beside a plain page, answers under a strict CSP', async ({ browser }) => {
  test.setTimeout(180_000);
  // What a page author does: unpack the package, copy webmoe-chat.js and lib/ next to the page.
  const unpacked = join(tmp, 'unpacked');
  mkdirSync(unpacked);
  run('tar', ['xzf', tarball, '-C', unpacked], tmp);
  const site = join(tmp, 'plain');
  mkdirSync(site);
  cpSync(join(unpacked, 'package/dist/webmoe-chat.js'), join(site, 'webmoe-chat.js'));
  cpSync(join(unpacked, 'package/dist/lib'), join(site, 'lib'), { recursive: true });
  writeFileSync(join(site, 'index.html'),
    '<!doctype html>\n<html lang="en">\n<title>plain page</title>\n<script type="module" src="webmoe-chat.js"></script>\n<webmoe-chat></webmoe-chat>\n</html>\n');
  const server = await startStaticServer(site);
  server.headers.push({ match: /./, headers: { 'content-security-policy': CSP } });
  const context = await browser.newContext({ baseURL: server.origin });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    const violations: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text()); });
    const t0 = Date.now();
    await page.goto('/');
    const result = await page.locator('webmoe-chat').evaluate(async (el) => {
      const chat = el as HTMLElement & { temperature: number; repeatPenalty: number; maxTokens: number; send(t: string): Promise<unknown> };
      chat.temperature = 0;
      chat.repeatPenalty = 1;
      chat.maxTokens = 24;
      return chat.send('Hello there');
    }) as GenerationResult;
    times.standaloneRunMs = Date.now() - t0;
    expect(result.ids.length).toBeGreaterThan(0);
    expect(result.ids).toEqual(ref.greedy(result.promptIds, 24));
    expect(server.log.some((l) => l.path === `/lib/models/${MODEL}`)).toBe(true);
    expect(violations).toEqual([]);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
    await server.close();
  }
  console.log('e2e package:', JSON.stringify(times));
  test.info().annotations.push({ type: 'package', description: JSON.stringify(times) });
});
