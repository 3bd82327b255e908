// The WASM backend's 2 threads against 1 by weight bytes read per token, the figures behind the
// browser's rule (THREADS_MIN_BYTES_PER_TOKEN in src/wasm-backend/threads.ts). One process holds a
// 1-thread and a 2-thread WasmModel of the same file and alternates them (a 16-token prompt, then 8
// decoded tokens), ROUNDS rounds, medians: on a shared machine, separate processes swing more
// than the effect. Factory llama Q8_0 and qwen3moe Q8_0 (8 experts, top-2), 4 layers, 256-768
// wide; the default model; the engine bench's ~100 MB models if .cache/bench holds them.
//   npm run bench -- wasm-threads-size
import { existsSync, readFileSync } from 'node:fs';
import { readGGUF } from '../../src/gguf/reader.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import { GGMLType } from '../../src/gguf/types.ts';
import { planModel } from '../../src/model/plan.ts';
import { WasmModel } from '../../src/wasm-backend/model.ts';
import { weightBytesPerToken } from '../../src/wasm-backend/threads.ts';
import { makeModel } from '../factory/make-model.ts';

const ROUNDS = 12;
const PROMPT = Array.from({ length: 16 }, (_, i) => (i * 37 + 5) % 500);
const WIDTHS = [256, 384, 512, 768];

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const hp = (e: number, moe: boolean) => ({ nEmbd: e, nHead: e / 64, nHeadKv: e / 128, headDim: 64, nLayer: 4, ...(moe ? { nFf: e, nFfExp: e } : { nFf: 2 * e }) });

async function compare(name: string, bytes: Uint8Array) {
  const one = await WasmModel.load(bytesSource(bytes), { nCtx: 64, maxBatch: 32, threads: 1 });
  const two = await WasmModel.load(bytesSource(bytes), { nCtx: 64, maxBatch: 32, threads: 2 });
  const t = { one: { dec: [] as number[], pre: [] as number[] }, two: { dec: [] as number[], pre: [] as number[] } };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const [k, m] of [['one', one], ['two', two]] as const) {
        m.reset();
        let t0 = performance.now();
        let { next } = m.forward(PROMPT);
        t[k].pre.push((PROMPT.length / (performance.now() - t0)) * 1000);
        t0 = performance.now();
        for (let i = 0; i < 8; i++) ({ next } = m.forward([next]));
        t[k].dec.push((8 / (performance.now() - t0)) * 1000);
      }
    }
  } finally {
    one.close();
    two.close();
  }
  const perTokenMB = weightBytesPerToken(planModel(await readGGUF(bytesSource(bytes)))) / 1e6;
  const [d1, d2, p1, p2] = [t.one.dec, t.two.dec, t.one.pre, t.two.pre].map(median);
  const row = { name, fileMB: +(bytes.length / 1e6).toFixed(1), perTokenMB: +perTokenMB.toFixed(2), decode1: +d1.toFixed(1), decode2: +d2.toFixed(1),
    prefill1: +p1.toFixed(1), prefill2: +p2.toFixed(1), decodeRatio: +(d2 / d1).toFixed(2), prefillRatio: +(p2 / p1).toFixed(2) };
  process.stderr.write(`wasm-threads-size: ${JSON.stringify(row)}\n`);
  return row;
}

export default async function run() {
  const rows = [];
  rows.push(await compare('default tiny MoE', new Uint8Array(readFileSync('public/models/webmoe-tiny-moe.q8_0.gguf'))));
  for (const moe of [false, true]) {
    for (const e of WIDTHS) {
      const arch = moe ? 'qwen3moe' : 'llama';
      rows.push(await compare(`${arch} Q8_0 ${e}`, makeModel({ arch, type: GGMLType.Q8_0, seed: 1, hp: hp(e, moe) })));
    }
  }
  for (const f of ['dense-q8_0', 'moe-q4_k']) {
    const path = `.cache/bench/${f}.gguf`;
    if (existsSync(path)) rows.push(await compare(f, new Uint8Array(readFileSync(path))));
  }
  return { rounds: ROUNDS, rows };
}
