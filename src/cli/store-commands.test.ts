// The store commands run in-process against the loopback fault server: `download` stores a model
// bit-identical and resumes a partial one without fetching stored chunks again, `models` lists what
// is stored, `delete` removes it; every error is one named line.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameBytes, TEST_CHUNK_BYTES, testModel } from '../../tools/faultserver/fixtures.ts';
import { startFaultServer, type FaultServer } from '../../tools/faultserver/server.ts';
import { openModel } from '../fetch/open.ts';
import { bytesSource } from '../gguf/source.ts';
import { greedy } from '../reference/generate.ts';
import { ReferenceModel } from '../reference/model.ts';
import { fsStore } from '../storage/fs.ts';
import { modelId } from '../storage/manifest.ts';
import { main } from './main.ts';
import { storeDir } from './store.ts';

const model = testModel(1);
let server: FaultServer;
let n = 0;
const dirs: string[] = [];

beforeAll(async () => {
  server = await startFaultServer();
});
afterAll(async () => {
  await server.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'webmoe-store-cli-'));
  dirs.push(d);
  return d;
}

function serve(bytes = model) {
  const path = `/c${n++}.gguf`;
  server.serve(path, bytes);
  return { path, url: server.url(path) };
}

async function run(...argv: string[]) {
  let out = '', err = '';
  const code = await main(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

async function runJson(...argv: string[]) {
  const r = await run(...argv);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
}

/** The bytes of a stored model, read back through a fresh open (a complete one makes no request). */
async function stored(url: string, dir: string): Promise<Uint8Array> {
  const dl = await openModel({ url, store: fsStore(dir) });
  try {
    return await dl.ensureRange(0, dl.size);
  } finally {
    await dl.close();
  }
}

describe('store commands', () => {
  it.each(['download', 'models', 'delete'])('%s: listed in --help, with its own help two ways', async (cmd) => {
    expect((await run('--help')).out).toMatch(new RegExp(`^  ${cmd} `, 'm'));
    const a = await run('help', cmd), b = await run(cmd, '--help');
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.out).toMatch(new RegExp(`^Usage: webmoe ${cmd} `));
  });

  it('download stores the file bit-identical, with progress on stderr', async () => {
    const dir = tmp();
    const { url } = serve();
    const r = await run('download', url, '--store', dir);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^webmoe download: complete 2\.\d MB of 2\.\d MB \(100\.0%\)/m);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ url, id: await modelId(url), store: dir, size: model.length, complete: true, chunksResumed: 0 });
    expect(sameBytes(await stored(url, dir), model)).toBe(true);
  });

  it('download resumes a partial model: only the missing chunks cross the link', async () => {
    const dir = tmp();
    const { path, url } = serve();
    const first = await openModel({ url, store: fsStore(dir), chunkBytes: TEST_CHUNK_BYTES });
    await first.ensureDense();
    const have = first.progress();
    await first.close();
    expect(have.bytesDone).toBeLessThan(model.length);

    const before = server.bytesSent(path);
    const j = await runJson('download', url, '--store', dir, '--quiet');
    expect(j.complete).toBe(true);
    expect(j.chunksResumed).toBe(have.chunksDone);
    // The missing bytes, plus the one byte that checks the file is still the same.
    expect(server.bytesSent(path) - before).toBe(model.length - have.bytesDone + 1);
    expect(sameBytes(await stored(url, dir), model)).toBe(true);
  });

  it('download checks a given SHA-256', async () => {
    const dir = tmp();
    const { url } = serve();
    const sha = createHash('sha256').update(model).digest('hex');
    expect(await runJson('download', url, '--store', dir, '--quiet', '--sha256', sha)).toMatchObject({ complete: true, verified: true });
    const { url: other } = serve();
    const bad = await run('download', other, '--store', dir, '--quiet', '--sha256', '0'.repeat(64));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^webmoe download: FileHashMismatchError.*\n$/);
  });

  it('models lists complete and partial models with their sizes; delete removes them by id or URL', async () => {
    const dir = tmp();
    const a = serve(), b = serve(testModel(2));
    await runJson('download', a.url, '--store', dir, '--quiet');
    const partial = await openModel({ url: b.url, store: fsStore(dir), chunkBytes: TEST_CHUNK_BYTES });
    await partial.ensureDense();
    const partialBytes = partial.progress().bytesDone;
    await partial.close();

    const list = await runJson('models', '--store', dir);
    expect(list.store).toBe(dir);
    expect(list.models).toEqual([
      expect.objectContaining({ id: await modelId(a.url), url: a.url, size: model.length, stored: model.length, percent: 100, complete: true }),
      expect.objectContaining({ id: await modelId(b.url), url: b.url, size: model.length, stored: partialBytes, complete: false }),
    ]);
    expect(list.models[1].percent).toBe(Math.floor((1000 * partialBytes) / model.length) / 10);
    expect(list.bytesStored).toBe(model.length + partialBytes);

    expect(await runJson('delete', list.models[0].id, '--store', dir)).toEqual({ id: list.models[0].id, url: a.url, bytesFreed: model.length });
    expect(await runJson('delete', b.url, '--store', dir)).toMatchObject({ id: list.models[1].id });
    expect((await runJson('models', '--store', dir)).models).toEqual([]);

    const gone = await run('delete', b.url, '--store', dir);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/^webmoe delete: ModelNotStoredError \[not-stored\]: no model http.* in .*webmoe models --store/);
  });

  it('generate --model URL goes through the store: the reference\'s tokens, resumable, offline once complete', async () => {
    const dir = tmp();
    const { path, url } = serve();
    const prompt = [5, 17, 42];
    const want = greedy(await ReferenceModel.load(bytesSource(model)), prompt, 6);
    const gen = () => runJson('generate', '--model', url, '--store', dir, '--prompt-ids', prompt.join(','), '--max-tokens', '6', '--ignore-eos', '--json');
    const first = await gen();
    expect(first.ids).toEqual(want);
    expect(first.download).toMatchObject({ id: await modelId(url), store: dir, bytesTotal: model.length });
    expect(first.download.bytesStored).toBeGreaterThan(0);
    const [listed] = (await runJson('models', '--store', dir)).models;
    expect(listed.url).toBe(url);
    expect(listed.stored).toBeGreaterThanOrEqual(first.download.bytesStored); // a fetch may land as it closes

    await runJson('download', url, '--store', dir, '--quiet'); // the rest
    const asked = server.log.filter((e) => e.path === path).length;
    const again = await gen();
    expect(again.ids).toEqual(want);
    expect(again.download).toMatchObject({ complete: true, bytesFetched: 0 });
    expect(server.log.filter((e) => e.path === path).length).toBe(asked); // no request at all
  });

  it('wrong command lines exit 2 with one line', async () => {
    for (const argv of [['download'], ['download', 'model.gguf'], ['download', 'http://x/a', 'http://x/b'], ['delete'], ['models', 'x'], ['download', 'http://x/a', '--sha256', 'abc']]) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^webmoe \w+: UsageError: [^\n]+\n$/);
    }
  });

  it('the store directory: --store, else WEBMOE_STORE, else XDG_CACHE_HOME/webmoe, else ~/.cache/webmoe', () => {
    const saved = { s: process.env.WEBMOE_STORE, x: process.env.XDG_CACHE_HOME };
    try {
      process.env.WEBMOE_STORE = '/tmp/a';
      process.env.XDG_CACHE_HOME = '/tmp/c';
      expect(storeDir('/tmp/flag')).toBe('/tmp/flag');
      expect(storeDir()).toBe('/tmp/a');
      delete process.env.WEBMOE_STORE;
      expect(storeDir()).toBe('/tmp/c/webmoe');
      delete process.env.XDG_CACHE_HOME;
      expect(storeDir()).toBe(join(homedir(), '.cache', 'webmoe'));
    } finally {
      for (const [k, v] of [['WEBMOE_STORE', saved.s], ['XDG_CACHE_HOME', saved.x]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
