// Expert paging in the WASM CPU backend (WasmModelOptions.expertBudget, src/wasm-backend/experts.ts)
// against all experts resident, in Node on this machine, one thread: the ~100 MB MoE Q4_K factory
// model of engine.ts (8 layers x 8 experts of 1.33 MB, top-2: random weights, so routing is close
// to uniform, the hard case for a cache) with heap slots for 25% of its expert bytes, with no RAM
// tier (every miss read from the file: the OS page cache here, IndexedDB in a browser; with and
// without the next layer's guessed experts read ahead) and with a RAM tier holding every expert (a
// miss costs a copy into the heap). Each configuration in its own
// child process (wasm-speed.ts), 64-token prompt then 64 decoded tokens, 5 rounds interleaved,
// the best decode of each kept; the greedy ids must
// agree (paged = resident bit for bit: experts.test.ts).
//   npm run bench -- wasm-paging
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { readGGUF } from '../../src/gguf/reader.ts';
import { fileSource } from '../../src/gguf/source-node.ts';
import { planModel } from '../../src/model/plan.ts';
import { MODELS, modelPath } from './engine.ts';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const PROMPT = Array.from({ length: 64 }, (_, i) => 10 + ((i * 37) % 1200));
const N_DECODE = 64;
const ROUNDS = 5;
const SHARE = 0.25;

type Speed = { prefillTokS?: number; decodeTokS?: number; ids?: number[]; error?: string; [k: string]: unknown };

function child(args: object): Promise<Speed> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'tools/bench/child/wasm-speed.ts'), JSON.stringify(args)],
      { cwd: ROOT, timeout: 900_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
        try {
          done(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
        } catch {
          done({ error: `wasm-speed exited (${err?.code ?? err?.signal ?? 'no result'}): ${stderr.slice(-300)}` });
        }
      });
  });
}

export default async function bench() {
  const path = modelPath(MODELS.find((m) => m.name === 'moe-q4_k')!);
  const source = fileSource(path);
  const plan = planModel(await readGGUF(source));
  await source.close?.();
  const expertBytes = plan.layers.reduce((s, L) => s + (L.moe ? L.moe.experts.gate.nBytes + L.moe.experts.up.nBytes + L.moe.experts.down.nBytes : 0), 0);
  const budget = Math.floor(SHARE * expertBytes);
  const configs: Record<string, object> = {
    resident: {},
    [`paged ${SHARE * 100}%, no RAM tier`]: { expertBudget: budget, ramBudget: 0 },
    [`paged ${SHARE * 100}%, no RAM tier, no prefetch`]: { expertBudget: budget, ramBudget: 0, prefetch: false },
    [`paged ${SHARE * 100}%, RAM tier of all experts`]: { expertBudget: budget, ramBudget: expertBytes },
  };
  const best: Record<string, Speed> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, extra] of Object.entries(configs)) {
      const s = await child({ model: path, prompt: PROMPT, nDecode: N_DECODE, ...extra });
      const b = best[name];
      if (!b || b.error || (!s.error && (s.decodeTokS ?? 0) > (b.decodeTokS ?? 0))) best[name] = s;
    }
  }
  const ids = JSON.stringify(best.resident.ids);
  const r = (x: unknown) => (typeof x === 'number' ? +x.toFixed(2) : x);
  return {
    model: path.slice(ROOT.length + 1), expertMB: +(expertBytes / 1e6).toFixed(1), budgetMB: +(budget / 1e6).toFixed(1), promptTokens: PROMPT.length, decodeTokens: N_DECODE, rounds: ROUNDS,
    configs: Object.fromEntries(Object.entries(best).map(([name, s]) => [name, {
      ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'ids' && k !== 'experts').map(([k, v]) => [k, r(v)])),
      ...(s.experts ? { experts: Object.fromEntries(Object.entries(s.experts as object).map(([k, v]) => [k, r(v)])) } : {}),
      sameIdsAsResident: JSON.stringify(s.ids) === ids,
    }])),
  };
}
