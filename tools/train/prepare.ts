// Builds the token streams for tools/train/train_moe.py.
//   npx tsx tools/train/prepare.ts [--merges 4000] [--val 0.02] [--out .cache/train]
// Writes <out>/train.bin and <out>/val.bin (little-endian uint16 token ids, documents separated by
// <|endoftext|>) and <out>/meta.json (vocabulary, eos id, counts, test prompts as ids).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gpt2Vocab } from '../factory/vocab.ts';
import { BpeEncoder } from './bpe.ts';
import { brownDocuments, fortuneDocuments, type Doc } from './corpus.ts';
import { seededRandom } from '../../src/util/random.ts';

const { values: args } = parseArgs({
  options: {
    merges: { type: 'string', default: '4000' }, // BPE merges kept; vocab = 256 + merges + 1
    val: { type: 'string', default: '0.02' },    // fraction of documents held out
    out: { type: 'string', default: '.cache/train' },
    seed: { type: 'string', default: '1234' },
  },
});
const nMerges = Number(args.merges);
const valFraction = Number(args.val);

/** The shared seeded PRNG (src/util/random.ts), so the split and the order are reproducible. */
function rng(seed: number): () => number {
  return seededRandom(seed).uniform;
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

const t0 = performance.now();
const vocab = gpt2Vocab(nMerges);
if (vocab.tokens.length > 65536) throw new Error('uint16 ids need a vocabulary of at most 65536 tokens');
const bpe = new BpeEncoder(vocab);

const brown = brownDocuments();
const fortunes = fortuneDocuments();
const docs = shuffle([...brown, ...fortunes], rng(Number(args.seed)));
const nVal = Math.max(1, Math.round(docs.length * valFraction));

/** Token ids of the documents, each followed by <|endoftext|>, as uint16. */
function encodeDocs(ds: Doc[]): { ids: Uint16Array; bytes: number } {
  const ids: number[] = [];
  let bytes = 0;
  for (const d of ds) {
    for (const id of bpe.encode(d.text)) ids.push(id);
    ids.push(vocab.eosId);
    bytes += Buffer.byteLength(d.text, 'utf8');
  }
  return { ids: Uint16Array.from(ids), bytes };
}

const val = encodeDocs(docs.slice(0, nVal));
const train = encodeDocs(docs.slice(nVal));

mkdirSync(args.out, { recursive: true });
// Uint16Array is little-endian on every platform Node runs on (x86, ARM).
writeFileSync(join(args.out, 'train.bin'), train.ids);
writeFileSync(join(args.out, 'val.bin'), val.ids);
// Prompts whose ids the trainer runs greedily in torch, for tools/train/check-llamacpp.ts to compare.
const PROMPTS = ['The', 'Once upon a time', 'The meaning of life is'];
const meta = {
  nMerges,
  vocabSize: vocab.tokens.length,
  eosId: vocab.eosId,
  documents: { brown: brown.length, fortunes: fortunes.length, train: docs.length - nVal, val: nVal },
  tokens: { train: train.ids.length, val: val.ids.length },
  bytesPerToken: +((train.bytes + val.bytes) / (train.ids.length + val.ids.length)).toFixed(3),
  prompts: PROMPTS.map((text) => ({ text, ids: bpe.encode(text) })),
  vocabTokens: vocab.tokens, // GPT-2 byte-to-unicode token strings, for decoding samples in Python
};
writeFileSync(join(args.out, 'meta.json'), JSON.stringify(meta) + '\n');
console.log(JSON.stringify({ ...meta, vocabTokens: undefined }), `${((performance.now() - t0) / 1000).toFixed(1)} s`);
console.log('sample:', JSON.stringify(docs[nVal].text.slice(0, 300)));
