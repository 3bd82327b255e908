// Fuzzing the header reader and the model plan: 10,000 mutated and truncated headers from real
// factory files (tools/fuzz/gguf.ts makes and runs them, deterministically from SEED). Each must
// end in success or a named error. The fuzzer runs in a child process with a 512 MB heap and a
// watchdog here, so an out-of-memory is a crash of the child and a hang is a silent child, both
// caught, instead of taking down the test runner. Below it: the inputs the fuzzer broke, kept.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeModel } from '../../tools/factory/make-model.ts';
import { caseSource, makeBases, makeCase } from '../../tools/fuzz/gguf.ts';
import { diffAgainstPy, pyTryReadGGUF } from '../../tools/oracle/gguf-py-reader.ts';
import { ModelFormatError } from '../model/hparams.ts';
import { planModel } from '../model/plan.ts';
import { GGUFError, readGGUF } from './reader.ts';
import { bytesSource, type RangeSource } from './source.ts';
import { GGMLType, GGUFValueType, type GGUFEntry, type GGUFFile } from './types.ts';
import { writeGGUF } from './writer.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SEED = 20261125;
const CASES = 10_000;
// Limits in CPU time of the child, so a loaded machine (the whole suite runs in parallel on two
// cores) does not fail them; a hang burns no less CPU, and the watchdog catches it in wall time.
const CASE_LIMIT_MS = 2_000;   // CPU per case
const TOTAL_LIMIT_MS = 60_000; // CPU for all cases (making the base files takes a few s more)
const SILENCE_LIMIT_MS = 10_000; // wall time without a line from the child: a hang

interface Run { lines: string[]; exit: number | null; signal: string | null; hung?: number; stderr: string }

/** Runs the fuzzer; kills it when a case is silent for longer than the per-case limit. */
function runFuzzer(): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [
      '--max-old-space-size=512', 'bin/run-ts.mjs', 'tools/fuzz/gguf.ts', '--seed', String(SEED), '--cases', String(CASES),
    ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let partial = '', stderr = '', ready = false, last = Date.now(), hung: number | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const l of parts) {
        if (l.startsWith('ready')) ready = true;
        else if (l !== 'done') lines.push(l);
      }
      last = Date.now();
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-4000); });
    const watchdog = setInterval(() => {
      if (ready && Date.now() - last > SILENCE_LIMIT_MS) {
        hung = lines.length; // cases run in order from 0: the next one is silent
        child.kill('SIGKILL');
      }
    }, 250);
    child.on('close', (exit, signal) => {
      clearInterval(watchdog);
      done({ lines, exit, signal, hung, stderr });
    });
  });
}

describe('fuzz: mutated GGUF headers give success or a named error', () => {
  it(`${CASES} cases, seed ${SEED}`, { timeout: 240_000 }, async () => {
    const run = await runFuzzer();
    const hint = `replay one case: node bin/run-ts.mjs tools/fuzz/gguf.ts --seed ${SEED} --only N`;
    expect(run.hung, `case ${run.hung} hung (no answer in ${SILENCE_LIMIT_MS} ms); ${hint}`).toBeUndefined();
    // A crash of the child (out of memory above all) ends the run early: name the case it was on.
    expect(run.exit, `fuzzer died on case ${run.lines.length} (${run.signal ?? ''}): ${run.stderr}; ${hint}`).toBe(0);
    expect(run.lines.length).toBe(CASES);

    const outcomes = new Map<string, number>();
    const crashes: string[] = [], slow: string[] = [];
    let totalMs = 0, wallMs = 0, maxMs = 0;
    for (const l of run.lines) {
      const [, outcome, wall, cpu] = l.split('\t');
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (outcome.startsWith('CRASH')) crashes.push(l);
      if (Number(cpu) > CASE_LIMIT_MS) slow.push(l);
      totalMs += Number(cpu);
      wallMs += Number(wall);
      maxMs = Math.max(maxMs, Number(cpu));
    }
    console.log(`fuzz: ${CASES} cases, ${(totalMs / 1000).toFixed(1)} s CPU (${(wallMs / 1000).toFixed(1)} s wall), slowest ${maxMs.toFixed(0)} ms:`,
      Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])));
    expect(crashes, hint).toEqual([]);
    expect(slow, hint).toEqual([]);
    expect(totalMs).toBeLessThan(TOTAL_LIMIT_MS);

    // Every outcome is one of the named ones. A fuzzer that only ever broke the magic would pass
    // the checks above and prove little, so it must also reach deep: most error codes, successes,
    // and both model-plan errors.
    const named = /^(ok|ModelFormatError|UnsupportedArchError|GGUFError:[a-z-]+)$/;
    expect([...outcomes.keys()].filter((o) => !named.test(o))).toEqual([]);
    const codes = [...outcomes.keys()].filter((o) => o.startsWith('GGUFError:'));
    expect(codes.length).toBeGreaterThanOrEqual(10);
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(100);
    expect(outcomes.get('ModelFormatError') ?? 0).toBeGreaterThan(50);
    expect(outcomes.get('UnsupportedArchError') ?? 0).toBeGreaterThan(0);
  });
});

// ---- regressions: inputs the fuzzer broke ------------------------------------------------------

/** The factory file re-written with some metadata entries replaced (same tensors, same bytes). */
async function withMetadata(bytes: Uint8Array, edits: Record<string, GGUFEntry>): Promise<Uint8Array> {
  const g = await readGGUF(bytesSource(bytes));
  const meta = [...g.metadata].map(([k, e]): [string, GGUFEntry] => [k, edits[k] ?? e]);
  const tensors = g.tensors.map((t) => ({
    name: t.name, shape: t.shape, type: t.type,
    data: bytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.nBytes),
  }));
  return writeGGUF(meta, tensors, { version: g.version as 2 | 3, alignment: g.alignment });
}

function counting(inner: RangeSource) {
  const c = { bytes: 0 };
  return {
    c,
    src: { ...inner, read: async (o: number, n: number) => { const b = await inner.read(o, n); c.bytes += b.length; return b; } } as RangeSource,
  };
}

describe('fuzz regressions', () => {
  it('block_count 1056964608 (the bits of 0.5f) is a ModelFormatError, not an out-of-memory', async () => {
    // Seed 1, case 142: tensorSpecs built specs for a billion layers before any check.
    const bytes = await withMetadata(makeModel({ arch: 'granitemoe', type: GGMLType.Q5_K, nMerges: 50 }), {
      'granitemoe.block_count': { type: GGUFValueType.UINT32, value: 1056964608 },
    });
    const file = await readGGUF(bytesSource(bytes));
    const t0 = performance.now();
    expect(() => planModel(file)).toThrow(ModelFormatError);
    expect(() => planModel(file)).toThrow(/block_count is 1056964608, but the file has only \d+ tensors/);
    expect(performance.now() - t0).toBeLessThan(100);
  });

  it.each([
    ['a fraction', { type: GGUFValueType.FLOAT32, value: 1.5 }],
    ['zero', { type: GGUFValueType.UINT32, value: 0 }],
    ['negative', { type: GGUFValueType.INT32, value: -2 }],
  ] as [string, GGUFEntry][])('block_count as %s is a ModelFormatError', async (_label, entry) => {
    const bytes = await withMetadata(makeModel({ arch: 'llama', nMerges: 20 }), { 'llama.block_count': entry });
    const file = await readGGUF(bytesSource(bytes));
    expect(() => planModel(file)).toThrow(ModelFormatError);
  });

  it('an array longer than the file is refused from the first read, not after fetching the file', async () => {
    // Seed 1, case 8766: a count within the 512 MiB header limit but past the end of a 5 MB file
    // made the reader fetch the whole file, doubling its window, before saying so.
    const bytes = makeModel({ arch: 'llama', type: GGMLType.F32, nMerges: 50 });
    const key = new TextEncoder().encode('tokenizer.ggml.tokens');
    const at = indexOf(bytes, key) + key.length + 4 + 4; // past the value type and the item type
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(at, BigInt(bytes.length), true);
    const { src, c } = counting(bytesSource(bytes));
    const err = await readGGUF(src).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GGUFError);
    expect((err as GGUFError).code).toBe('bad-count');
    expect((err as GGUFError).offset).toBe(at);
    expect(bytes.length).toBeGreaterThan(1 << 20);
    expect(c.bytes).toBe(256 * 1024);
  });

  it('a string longer than the rest of the file is refused from the first read', async () => {
    const bytes = makeModel({ arch: 'llama', type: GGMLType.F32, nMerges: 50 });
    const key = new TextEncoder().encode('general.name');
    const at = indexOf(bytes, key) + key.length + 4; // the string's length field
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(at, BigInt(bytes.length - (at + 8) + 1), true); // 1 byte too long
    const { src, c } = counting(bytesSource(bytes));
    await expect(readGGUF(src)).rejects.toMatchObject({ name: 'GGUFError', code: 'bad-count', offset: at });
    expect(c.bytes).toBe(256 * 1024);
  });
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('not found');
}

// ---- differential: where our reader accepts a mutated header, gguf-py reads the same ---------

describe('fuzz against gguf-py', () => {
  it('mutated headers: what we accept, gguf-py accepts and reads the same', { timeout: 240_000 }, async () => {
    // gguf-py takes ~50 ms a file (seconds for the big-header base, left out here), so it reads
    // every header we accept and a sample of those we refuse.
    const bases = (await makeBases()).filter((b) => !b.label.includes('big-header'));
    const dir = mkdtempSync(join(tmpdir(), 'webmoe-fuzz-'));
    const ours = new Map<string, GGUFFile | string>();
    let refused = 0;
    for (let i = 0; i < 1500; i++) {
      const c = makeCase(bases, SEED + 1, i);
      c.unknownSize = false;
      const g = await readGGUF(caseSource(c)).catch((e: unknown) => (e instanceof GGUFError ? e.code : `CRASH ${String(e)}`));
      if (typeof g === 'string' && refused++ >= 150) continue;
      const path = join(dir, `${i}.gguf`);
      // Header bytes as mutated; the tensor data as a sparse hole of zeros (gguf-py maps it,
      // neither reader looks at it), so files of several MB cost no disk.
      writeFileSync(path, c.head.subarray(0, Math.min(c.total, c.head.length)));
      truncateSync(path, c.total);
      ours.set(path, g);
    }
    const py = pyTryReadGGUF([...ours.keys()]);
    rmSync(dir, { recursive: true, force: true });
    const tally: Record<string, number> = {};
    const disagreements: string[] = [];
    for (const p of py) {
      const g = ours.get(p.path)!;
      const pyOk = !('error' in p);
      const key = `ours ${typeof g === 'string' ? g : 'ok'} / gguf-py ${pyOk ? 'ok' : p.error.split(':')[0]}`;
      tally[key] = (tally[key] ?? 0) + 1;
      if (typeof g !== 'string' && !pyOk) disagreements.push(`${p.path}: we accept, gguf-py says ${p.error}`);
      if (typeof g !== 'string' && pyOk) disagreements.push(...diffAgainstPy(g, p).map((x) => `${p.path}: ${x}`));
      // Where we refuse what gguf-py reads, it must be one of the checks llama.cpp's C++ loader
      // makes and gguf-py does not: rows that are not whole blocks, unaligned tensor offsets,
      // bools other than 0/1, GGML types that were removed from ggml.
      if (typeof g === 'string' && pyOk && !['bad-tensor', 'bad-value-type', 'unsupported-type'].includes(g)) {
        disagreements.push(`${p.path}: we say ${g}, gguf-py reads it`);
      }
    }
    console.log('fuzz vs gguf-py:', tally);
    expect(disagreements.slice(0, 20)).toEqual([]);
    expect(py.filter((p) => !('error' in p) && typeof ours.get(p.path) !== 'string').length).toBeGreaterThan(100);
  });
});
