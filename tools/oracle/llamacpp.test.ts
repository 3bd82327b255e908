// The llama.cpp oracle itself: what it returns is consistent with llama.cpp's own logits, teacher
// forcing replays a run exactly, tokenization round-trips through GPT-2's decoder (npm
// gpt-3-encoder, not our code), and a model that makes llama.cpp abort fails its job only.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dequantize } from '../../src/gguf/dequant.ts';
import { quantize } from '../../src/gguf/quant.ts';
import { readGGUF } from '../../src/gguf/reader.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import { GGMLType } from '../../src/gguf/types.ts';
import { writeGGUF } from '../../src/gguf/writer.ts';
import { makeModel } from '../factory/make-model.ts';
import { greedy, greedyResult, OracleError, runJobs, tokenize } from './llamacpp.ts';

const gpt2 = createRequire(import.meta.url)('gpt-3-encoder') as { decode(ids: number[]): string };

let dir: string;
let model: string, broken: string;
const PROMPT = [10, 200, 33, 480];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmoe-oracle-'));
  model = join(dir, 'qwen3moe.gguf');
  const bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 3 });
  writeFileSync(model, bytes);
  // The same model with output_norm.weight stored as Q8_0: llama.cpp loads it, then its CPU
  // backend aborts on the norm multiply (binary_op: unsupported types) — a GGML_ABORT.
  const f = await readGGUF(bytesSource(bytes));
  broken = join(dir, 'broken.gguf');
  writeFileSync(broken, writeGGUF(f.metadata, f.tensors.map((t) => {
    const data = bytes.subarray(f.dataOffset + t.offset, f.dataOffset + t.offset + t.nBytes);
    if (t.name !== 'output_norm.weight') return { name: t.name, shape: t.shape, type: t.type, data };
    return { name: t.name, shape: t.shape, type: GGMLType.Q8_0, data: quantize(GGMLType.Q8_0, dequantize(t.type, data, t.nElements)) };
  })));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('llama.cpp oracle', () => {
  it('greedy: each token is the argmax of the logits returned, probabilities are their softmax', async () => {
    const out = await greedy(model, PROMPT, 6, { logits: true });
    expect(out.ids).toHaveLength(6);
    for (const [s, step] of out.steps.entries()) {
      const logits = step.logits!;
      expect(logits).toHaveLength(1257);
      const best = logits.indexOf(Math.max(...logits));
      expect(step.token).toBe(out.ids[s]);
      expect(best).toBe(step.token);
      const max = logits[best];
      const z = logits.reduce((a, l) => a + Math.exp(l - max), 0);
      expect(step.top[0][0]).toBe(step.token);
      for (const [id, p] of step.top) expect(p).toBeCloseTo(Math.exp(logits[id] - max) / z, 5);
      for (let i = 1; i < step.top.length; i++) expect(step.top[i][1]).toBeLessThanOrEqual(step.top[i - 1][1]);
    }
  }, 120_000);

  it('teacher forcing with its own tokens replays the run bit for bit; other tokens change what follows', async () => {
    const [free, replay, other] = (await runJobs([
      { type: 'greedy', model, prompt: PROMPT, nTokens: 5, logits: true },
      { type: 'greedy', model, prompt: PROMPT, nTokens: 5, logits: true, forced: [] },
      { type: 'greedy', model, prompt: PROMPT, nTokens: 5, logits: true, forced: [7, 7, 7, 7] },
    ])).map(greedyResult);
    const again = await greedy(model, PROMPT, 5, { logits: true, forced: free.ids });
    expect(again.steps.map((s) => s.logits)).toEqual(free.steps.map((s) => s.logits));
    expect(replay.steps.map((s) => s.logits)).toEqual(free.steps.map((s) => s.logits));
    expect(other.steps[0].logits).toEqual(free.steps[0].logits); // before the first forced token
    expect(other.steps[1].logits).not.toEqual(free.steps[1].logits);
  }, 120_000);

  it("tokenize: llama.cpp's ids decode back to the text with GPT-2's own decoder", async () => {
    const text = 'The quick brown fox jumps over the lazy dog. Ünïcödé, tabs\tand  spaces!';
    const ids = await tokenize(model, text);
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.length).toBeLessThan(Buffer.byteLength(text)); // merges were applied
    expect(gpt2.decode(ids)).toBe(text);
  }, 120_000);

  it('a model that aborts llama.cpp fails its own job; the jobs after it still run', async () => {
    const [bad, good] = await runJobs([
      { type: 'greedy', model: broken, prompt: PROMPT, nTokens: 2 },
      { type: 'tokenize', model, text: 'still here' },
    ]);
    expect('error' in bad).toBe(true);
    if ('error' in bad) {
      expect(bad.error).toBeInstanceOf(OracleError);
      expect(bad.error.crashed).toBe(true);
      expect(bad.error.message).toMatch(/unsupported types/);
    }
    expect('ok' in good && good.ok.type === 'tokenize' && gpt2.decode(good.ok.ids)).toBe('still here');
  }, 120_000);
});
