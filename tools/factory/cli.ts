// Command-line flags of the model factory (`webmoe make-model ...`), turned into FactoryOptions.
// Kept beside the factory so its flags and its options change together; src/cli/make-model.ts
// only writes the file and reports it.
import { canQuantize } from '../../src/gguf/quant.ts';
import { GGMLType, TYPE_TRAITS, typeName } from '../../src/gguf/types.ts';
import { intFlag, numFlag, parseFlags, UsageError } from '../../src/cli/io.ts';
import { tensorSpecs } from '../../src/model/arch.ts';
import { ARCHS } from '../../src/model/archs/index.ts';
import type { HParams } from '../../src/model/hparams.ts';
import { defaultHParams, fallbackType, type FactoryOptions } from './make-model.ts';

/** Integer hyperparameter flags: flag name, HParams field, smallest allowed value. */
const INT_HP: [string, keyof HParams, number][] = [
  ['layers', 'nLayer', 1],
  ['embd', 'nEmbd', 1],
  ['heads', 'nHead', 1],
  ['kv-heads', 'nHeadKv', 1],
  ['head-dim', 'headDim', 2],
  ['ff', 'nFf', 0],
  ['ff-exp', 'nFfExp', 0],
  ['ff-shexp', 'nFfShexp', 0],
  ['experts', 'nExpert', 0],
  ['experts-used', 'nExpertUsed', 0],
  ['ctx', 'nCtxTrain', 1],
  ['rope-dim', 'ropeDim', 2],
  ['rope-orig-ctx', 'nCtxOrigYarn', 1],
];
const FLOAT_HP: [string, keyof HParams][] = [['eps', 'eps'], ['rope-base', 'ropeBase'], ['rope-factor', 'ropeScaleFactor']];
const ROPE_SCALINGS = ['none', 'linear', 'yarn'] as const;

/** Weight types the factory can write (those src/gguf/quant.ts quantizes). */
export const FACTORY_TYPES = Object.values(GGMLType).filter((t): t is GGMLType => typeof t === 'number' && canQuantize(t));

export const MAKE_MODEL_HELP = `Usage: webmoe make-model --arch ARCH --out FILE [options]

Writes a GGUF model with seeded random weights and a real GPT-2 BPE vocabulary (its first N
merges), of any architecture WebMoE supports, and prints JSON of what was written.

Required:
  --arch ARCH          ${Object.keys(ARCHS).join(', ')}
  --out FILE           where to write the .gguf (parent folders are created)

Options:
  --type TYPE          type of matrices, embeddings and experts (norms, biases, routers stay F32);
                       one of ${FACTORY_TYPES.map(typeName).join(', ')} (default F32)
  --seed N             seed of the weights (default 1); the same flags give the same bytes
  --tied               no output.weight where the arch allows it (the head reuses token_embd)
  --merges N           BPE merges kept from GPT-2's list; vocabulary = 256 + N + 1 (default 1000)
  --gguf-version 2|3   GGUF version written (default 3)
  --alignment N        tensor data alignment in bytes, a power of two (default 32)

Hyperparameters (defaults are tiny: 2 layers, embedding 256, 4 heads of 64, rows of 256 so every
K-quant applies; MoE archs get 8 experts, 2 used):
  --layers N  --embd N  --heads N  --kv-heads N  --head-dim N  --rope-dim N (default: head dim)
  --ff N (dense FFN width)  --ff-exp N (one expert's width)  --ff-shexp N (shared expert's width)
  --experts N  --experts-used N (llama takes experts too: Mixtral layout)
  --ctx N (context length)  --eps X (RMSNorm epsilon)  --rope-base X

RoPE scaling (metadata keys as llama.cpp reads them; see README "Supported models"):
  --rope-scaling none|linear|yarn   rope.scaling.type   --rope-factor X   rope.scaling.factor
  --rope-orig-ctx N    rope.scaling.original_context_length (YaRN; default: --ctx)
  --llama3-rope F,L,H,C   write rope_freqs.weight by Llama 3.1's rule: factor F, low/high
                       frequency factors L and H, original context C (Llama 3.2: 32,1,4,8192;
                       llama and granitemoe only)
`;

export interface MakeModelArgs {
  options: FactoryOptions;
  out: string;
  help: boolean;
}

/** Parses `make-model` flags; throws UsageError with a message that names the bad flag. */
export function parseMakeModelArgs(argv: string[]): MakeModelArgs {
  const str = { type: 'string' } as const;
  const { values } = parseFlags('make-model', argv, {
    arch: str, type: str, seed: str, tied: { type: 'boolean' }, merges: str, out: str,
    'gguf-version': str, alignment: str, eps: str, 'rope-base': str, 'rope-factor': str, 'rope-scaling': str, 'llama3-rope': str,
    ...Object.fromEntries(INT_HP.map(([flag]) => [flag, str])) as Record<string, typeof str>,
    help: { type: 'boolean', short: 'h' },
  });
  const v = values as Record<string, string | boolean | undefined>;
  const s = (k: string) => v[k] as string | undefined;
  if (v.help) return { options: { arch: '' }, out: '', help: true };

  const arch = s('arch');
  if (!arch) throw new UsageError(`make-model needs --arch, one of ${Object.keys(ARCHS).join(', ')}`);
  if (!ARCHS[arch]) throw new UsageError(`--arch "${arch}" is not supported; WebMoE runs: ${Object.keys(ARCHS).join(', ')}`);
  const out = s('out');
  if (!out) throw new UsageError('make-model needs --out FILE');

  let type = GGMLType.F32;
  const typeRaw = s('type');
  if (typeRaw !== undefined) {
    const t = FACTORY_TYPES.find((x) => typeName(x).toLowerCase() === typeRaw.toLowerCase());
    if (t === undefined) throw new UsageError(`--type "${typeRaw}" cannot be written by the factory; use one of ${FACTORY_TYPES.map(typeName).join(', ')}`);
    type = t;
  }

  const hp: Partial<HParams> = {};
  for (const [flag, field, min] of INT_HP) {
    const raw = s(flag);
    if (raw !== undefined) (hp as Record<string, number>)[field] = intFlag(flag, raw, min);
  }
  for (const [flag, field] of FLOAT_HP) {
    const raw = s(flag);
    if (raw !== undefined) (hp as Record<string, number>)[field] = numFlag(flag, raw);
  }
  if (hp.headDim !== undefined && hp.ropeDim === undefined) hp.ropeDim = hp.headDim;
  const scaling = s('rope-scaling');
  if (scaling !== undefined) {
    if (!(ROPE_SCALINGS as readonly string[]).includes(scaling)) throw new UsageError(`--rope-scaling "${scaling}" is not one of ${ROPE_SCALINGS.join(', ')}`);
    hp.ropeScaling = scaling as HParams['ropeScaling'];
  }
  // `--experts 8` alone (e.g. on llama, dense by default) routes to 2 of them, as Mixtral does.
  if (hp.nExpert !== undefined && hp.nExpertUsed === undefined) hp.nExpertUsed = Math.min(2, hp.nExpert);

  const options: FactoryOptions = {
    arch,
    type,
    seed: s('seed') !== undefined ? intFlag('seed', s('seed')!, -(2 ** 31), 2 ** 32 - 1) : 1,
    tied: v.tied === true,
    hp,
  };
  const l3 = s('llama3-rope');
  if (l3 !== undefined) {
    const parts = l3.split(',').map(Number);
    if (parts.length !== 4 || parts.some((x) => !Number.isFinite(x) || x <= 0) || parts[2] <= parts[1]) {
      throw new UsageError(`--llama3-rope wants FACTOR,LOW,HIGH,ORIGINAL_CONTEXT (positive, HIGH > LOW), e.g. 32,1,4,8192; got "${l3}"`);
    }
    if (!ARCHS[arch].ropeFreqFactors) throw new UsageError(`--llama3-rope: llama.cpp reads rope_freqs only for llama and granite, not ${arch}`);
    options.llama3Rope = { factor: parts[0], lowFreqFactor: parts[1], highFreqFactor: parts[2], originalContext: parts[3] };
  }
  if (s('merges') !== undefined) options.nMerges = intFlag('merges', s('merges')!, 0, 50000);
  if (s('gguf-version') !== undefined) options.version = intFlag('gguf-version', s('gguf-version')!, 2, 3) as 2 | 3;
  if (s('alignment') !== undefined) {
    const al = intFlag('alignment', s('alignment')!, 1, 1 << 30);
    if ((al & (al - 1)) !== 0) throw new UsageError(`--alignment must be a power of two, got ${al}`);
    options.alignment = al;
  }
  checkShapes(options);
  return { options, out, help: false };
}

/** Refuses hyperparameters the factory cannot turn into a valid file, with the reason, before
 *  any weight is made: rows that are not whole blocks of the type, heads that do not divide. */
function checkShapes(o: FactoryOptions): void {
  const spec = ARCHS[o.arch];
  const hp = defaultHParams(o.arch, 256 + (o.nMerges ?? 1000) + 1, o.hp);
  if (hp.nHead % hp.nHeadKv !== 0) throw new UsageError(`--heads ${hp.nHead} is not a multiple of --kv-heads ${hp.nHeadKv}`);
  if (hp.ropeDim > hp.headDim || hp.ropeDim % 2 !== 0) throw new UsageError(`--rope-dim ${hp.ropeDim} must be even and at most the head dim ${hp.headDim}`);
  const moe = spec.experts === 'always' || (spec.experts === 'optional' && hp.nExpert > 0);
  if (spec.experts === 'always' && hp.nExpert === 0) throw new UsageError(`${o.arch} has routed experts: --experts must be at least 1`);
  if (moe && (hp.nExpertUsed < 1 || hp.nExpertUsed > hp.nExpert)) {
    throw new UsageError(`--experts-used must be from 1 to --experts (${hp.nExpert}), got ${hp.nExpertUsed}`);
  }
  if (!moe && hp.nFf === 0) throw new UsageError(`a dense ${o.arch} model needs --ff of at least 1`);
  const type = o.type ?? GGMLType.F32;
  const block = TYPE_TRAITS[type]!.blockSize;
  for (const t of tensorSpecs(spec, hp)) {
    if (t.role === 'norm' || t.role === 'bias' || t.role === 'router' || t.role === 'selection' || t.role === 'rope-freqs') continue; // always F32
    if (t.shape.some((n) => n < 1)) throw new UsageError(`tensor ${t.name} would have shape [${t.shape}]: check the size flags`);
    // rows that do not fit a 256-block type get llama.cpp's 32-block fallback (fallbackType), but
    // not F16, its last resort
    const ft = fallbackType(type, t.shape[0]);
    if (ft === GGMLType.F16 && type !== GGMLType.F16) {
      throw new UsageError(`--type ${typeName(type)} packs rows in blocks of ${block}, but ${t.name} has rows of ${t.shape[0]}; choose sizes that are multiples of ${block > 32 ? `32 (rows not a multiple of ${block} get llama.cpp's fallback type)` : block}`);
    }
  }
}
