// gpt-oss on the WASM CPU backend against llama.cpp (node-llama-cpp, CPU) and the CPU reference:
// the factory gpt-oss of src/engine/gpt-oss.test.ts, laid out as the real files are (routed experts
// MXFP4, dense matrices Q8_0; biases, sinks and norms F32), with every gpt-oss mechanism: q/k/v and
// output biases, a sink logit per head, sliding-window attention (window 16) on even layers with
// their own RoPE base (10,000), YaRN (factor 32 over 4,096, base 150,000), a router bias with a
// softmax over the top-4 logits, expert biases and the clamped SwiGLU. The 20-token prompt is
// longer than the window and runs in batches of 8, then 32 greedy steps one token at a time.
// The tokens must be llama.cpp's outright and every logit of every step within LOGIT_TOL of its,
// on top of the suite's check against the CPU reference (tools/oracle/engine-check.ts); with the
// routed experts paged in the fewest heap slots, the logits must equal the resident run's bit for
// bit. `webmoe generate --backend wasm` gives the same ids.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { COMMANDS, main } from '../cli/main.ts';
import { expectAgreement } from '../../tools/oracle/engine-check.ts';
import { LOGIT_TOL } from '../../tools/oracle/llamacpp-agreement.ts';
import { greedyResult, runJobs, type GreedyOutput } from '../../tools/oracle/llamacpp.ts';
import { HeapExperts } from './experts.ts';
import { WasmModel, type WasmModelOptions } from './model.ts';
import { GPT_OSS } from '../../tools/factory/test-models.ts';

const N_TOKENS = 32;
const { window: WINDOW, nCtx: N_CTX, prompt: PROMPT, hp: HP } = GPT_OSS;
const EXPERT_TYPE = GGMLType.MXFP4;

let dir: string;
let path: string;
let bytes: Uint8Array;
let oracle: GreedyOutput;
/** The resident run's logits, for the paged run to equal. */
let resident: number[][] | undefined;

beforeAll(async () => {
  bytes = GPT_OSS.make(EXPERT_TYPE);
  dir = mkdtempSync(join(tmpdir(), 'webmoe-wasm-gpt-oss-'));
  path = join(dir, 'gpt-oss.gguf');
  writeFileSync(path, bytes);
  [oracle] = (await runJobs([{ type: 'greedy', model: path, prompt: PROMPT, nTokens: N_TOKENS, logits: true, contextSize: N_CTX }])).map(greedyResult);
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The backend's greedy run, with its logits at every step, in the oracle's format. */
async function wasmGreedy(opts: WasmModelOptions): Promise<GreedyOutput> {
  const model = await WasmModel.load(bytesSource(bytes), { nCtx: N_CTX, maxBatch: 8, ...opts });
  const out: GreedyOutput = { type: 'greedy', ids: [], steps: [] };
  let r = await model.forwardAsync(PROMPT, { logits: 'last' });
  for (let s = 0; s < N_TOKENS; s++) {
    out.ids.push(r.next);
    out.steps.push({ token: r.next, top: [], logits: Array.from(r.logits![0]) });
    if (s + 1 < N_TOKENS) r = await model.forwardAsync([r.next], { logits: 'last' });
  }
  if (opts.expertBudget) expect(model.expertStats!.slots).toBe(HP.nExpertUsed);
  return out;
}

describe(`gpt-oss on the WASM backend (experts ${EXPERT_TYPE === GGMLType.MXFP4 ? 'MXFP4' : 'Q8_0'}, Q8_0 dense, window ${WINDOW}, 20-token prompt)`, () => {
  it.each([
    { label: 'resident', paged: false },
    { label: 'paged in 4 heap slots', paged: true },
  ])('$label: llama.cpp\'s 32 greedy tokens, the reference\'s logits', async ({ label, paged }) => {
    let opts: WasmModelOptions = {};
    if (paged) {
      expect(resident, 'the resident run first').toBeDefined();
      const m = await WasmModel.load(bytesSource(bytes), { nCtx: 8 });
      opts = { expertBudget: HeapExperts.minBudget(m.plan) };
    }
    const got = await wasmGreedy(opts);
    expect(got.ids, `${label}: tokens vs llama.cpp's`).toEqual(oracle.ids);
    const logits = got.steps.map((s) => s.logits!);
    if (paged) {
      for (let s = 0; s < N_TOKENS; s++) expect(logits[s], `step ${s}`).toEqual(resident![s]);
    } else {
      expect(await expectAgreement(bytes, PROMPT, got, oracle, { nCtx: N_CTX })).toBe(true);
      resident = logits;
    }
    let max = 0;
    for (let s = 0; s < N_TOKENS; s++) for (let i = 0; i < logits[s].length; i++) max = Math.max(max, Math.abs(logits[s][i] - oracle.steps[s].logits![i]));
    console.log(`wasm gpt-oss ${label}: max |logit - llama.cpp's| over 32 steps ${max.toExponential(1)}`);
    expect(max).toBeLessThanOrEqual(LOGIT_TOL);
  }, 300_000);

  it('webmoe generate --backend wasm: llama.cpp\'s greedy ids', async () => {
    let out = '', err = '';
    const code = await main(['generate', '--model', path, '--prompt-ids', PROMPT.join(','), '--max-tokens', String(N_TOKENS),
      '--ignore-eos', '--backend', 'wasm', '--json'], { out: (s) => { out += s; }, err: (s) => { err += s; } }, COMMANDS);
    expect(err).toBe('');
    expect(code).toBe(0);
    const j = JSON.parse(out) as { backend: string; ids: number[] };
    expect(j.backend).toBe('wasm');
    expect(j.ids).toEqual(oracle.ids);
  }, 120_000);
});
