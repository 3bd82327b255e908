// Loads the trained GGUF in llama.cpp (npm node-llama-cpp, CPU build), decodes greedily, and
// compares with the torch model's own greedy tokens (reference.json from train_moe.py).
//   npx tsx tools/train/check-llamacpp.ts [--model public/models/webmoe-tiny-moe.q8_0.gguf]
//        [--reference .cache/train/export/reference.json] [--n 32] [--prompt "text"]...
// Exit code 1 if llama.cpp's tokenization of a prompt differs from ours, or its output is not
// word-like (too few alphabetic words). A greedy divergence from torch is reported, not fatal:
// Q8_0 rounding can flip a near-tie; an F32 GGUF should match torch.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getLlama } from 'node-llama-cpp';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'public/models/webmoe-tiny-moe.q8_0.gguf' },
    reference: { type: 'string', default: '.cache/train/export/reference.json' },
    n: { type: 'string', default: '32' },
    prompt: { type: 'string', multiple: true },
  },
});
const nTokens = Number(args.n);

interface Reference { text: string; ids: number[]; greedy: number[]; probs: number[]; top10: [number, number][] }
const reference: Reference[] = existsSync(args.reference) ? JSON.parse(readFileSync(args.reference, 'utf8')) : [];
const prompts = args.prompt ?? (reference.length ? reference.map((r) => r.text) : ['The', 'Once upon a time']);

const llama = await getLlama({ gpu: false, build: 'never' });
const model = await llama.loadModel({ modelPath: args.model });
// threads = physical cores: the default of 4 threads on 2 cores made decoding ~70x slower.
const ctx = await model.createContext({ contextSize: 256, threads: llama.cpuMathCores });

let failed = false;
for (const text of prompts) {
  const seq = ctx.getSequence();
  const prompt = model.tokenize(text);
  const ids: number[] = [];
  for await (const t of seq.evaluate(prompt, { temperature: 0 })) {
    ids.push(t);
    if (ids.length >= nTokens) break;
  }
  seq.dispose();
  const out = model.detokenize(ids as never);
  console.log(`llama.cpp greedy ${JSON.stringify(text)} -> ${JSON.stringify(out)}`);

  // Word-likeness: most whitespace-separated chunks should be letters with light punctuation.
  const words = out.split(/\s+/).filter(Boolean);
  const wordy = words.filter((w) => /^["'(]?[A-Za-z]+(['-][A-Za-z]+)*[.,;:!?"')]*$/.test(w)).length;
  if (words.length < 3 || wordy / words.length < 0.6) {
    console.log(`  NOT word-like: ${wordy}/${words.length} chunks are words`);
    failed = true;
  }

  const ref = reference.find((r) => r.text === text);
  if (!ref) continue;
  if (JSON.stringify([...prompt]) !== JSON.stringify(ref.ids)) {
    console.log(`  tokenization differs: llama.cpp ${JSON.stringify([...prompt])}, ours ${JSON.stringify(ref.ids)}`);
    failed = true;
  }
  // The first next-token distribution, unsampled (temperature 1, no top-k/top-p/min-p cut), against
  // torch's top 10: checks the forward math beyond the argmax.
  const seq2 = ctx.getSequence();
  const gen = seq2.evaluateWithMetadata(prompt, { probabilities: true }, { temperature: 1, topK: 0, topP: 1, minP: 0 });
  const first = (await gen.next()).value;
  await gen.return();
  seq2.dispose();
  if (first) {
    const maxDiff = Math.max(...ref.top10.map(([id, p]) => Math.abs((first.probabilities.get(id as never) ?? 0) - p)));
    console.log(`  first-token probabilities, top 10 of torch: max |llama.cpp - torch| = ${maxDiff.toExponential(2)}`);
  }
  const n = Math.min(ids.length, ref.greedy.length);
  const at = ids.slice(0, n).findIndex((t, i) => t !== ref.greedy[i]);
  if (at < 0) console.log(`  equals torch's greedy tokens (${n} of ${n})`);
  else {
    console.log(`  differs from torch at token ${at}: llama.cpp ${ids[at]}, torch ${ref.greedy[at]} ` +
      `(torch gave its pick p=${ref.probs[at]}; a small margin there means a near-tie)`);
  }
}
await model.dispose();
await llama.dispose();
process.exit(failed ? 1 : 0);
