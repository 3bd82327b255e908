// `webmoe generate`: greedy generation from token ids on the CPU reference. Text prompts, chat
// templates, text output and sampling at temperature > 0 need the WASM tokenizer and sampler, and
// the WebGPU backend is the engine: their flags exist now and say plainly that they are not here yet.
import { readGGUF } from '../gguf/reader.ts';
import { openSource } from '../gguf/source-node.ts';
import { planModel } from '../model/plan.ts';
import { type CliIO, intFlag, NotAvailableError, numFlag, parseFlags, UsageError } from './io.ts';

export const GENERATE_HELP = `Usage: webmoe generate --model MODEL --prompt-ids IDS [options] --json

Runs the model on the prompt and generates up to --max-tokens tokens, greedily.

Required:
  --model MODEL        a local .gguf path or an http(s) URL that serves byte ranges
  --prompt-ids IDS     the prompt as comma-separated token ids, e.g. 5,17,42
  (or --prompt TEXT    the prompt as text: needs the WASM tokenizer, not available yet)

Options:
  --max-tokens N       tokens to generate at most (default 32)
  --temperature X      0 = greedy (default); above 0 needs the WASM sampler, not available yet
  --backend B          cpu (the reference forward) or webgpu (not available yet); default cpu
  --json               print JSON: "ids" (the generated ids only) and timings; without it the
                       output is text, which needs the WASM tokenizer (not available yet)
  --chat               wrap the prompt in the model's chat template (needs the tokenizer)
  -h, --help           this text
`;

export interface GenerateArgs {
  model: string;
  promptIds: number[];
  maxTokens: number;
}

const TOKENIZER_LATER = 'needs the WASM tokenizer, which is not available yet';

/** Parses and checks the flags, refusing what is not built yet before any byte is read. */
export function parseGenerateArgs(argv: string[]): GenerateArgs | 'help' {
  const str = { type: 'string' } as const;
  const { values: v } = parseFlags('generate', argv, {
    model: str, 'prompt-ids': str, prompt: str, 'max-tokens': str, temperature: str, backend: str,
    json: { type: 'boolean' }, chat: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return 'help';
  if (!v.model) throw new UsageError('generate needs --model MODEL (a .gguf path or URL)');
  if (v.prompt !== undefined && v['prompt-ids'] !== undefined) throw new UsageError('give --prompt or --prompt-ids, not both');
  if (v.prompt === undefined && v['prompt-ids'] === undefined) throw new UsageError('generate needs --prompt-ids IDS (comma-separated token ids)');
  const maxTokens = v['max-tokens'] !== undefined ? intFlag('max-tokens', v['max-tokens'], 0, 1 << 20) : 32;
  const temperature = v.temperature !== undefined ? numFlag('temperature', v.temperature) : 0;
  if (temperature < 0) throw new UsageError(`--temperature must be 0 or more, got ${temperature}`);
  const backend = v.backend ?? 'cpu';
  if (backend !== 'cpu' && backend !== 'webgpu') throw new UsageError(`--backend must be cpu or webgpu, got "${backend}"`);

  if (v.prompt !== undefined) throw new NotAvailableError(`--prompt ${TOKENIZER_LATER}; pass token ids with --prompt-ids`);
  if (v.chat) throw new NotAvailableError(`--chat ${TOKENIZER_LATER}`);
  if (temperature !== 0) throw new NotAvailableError(`--temperature ${temperature} needs the WASM sampler, which is not available yet; use --temperature 0 (greedy)`);
  if (backend === 'webgpu') throw new NotAvailableError('--backend webgpu: the WebGPU engine is not available yet; use --backend cpu');
  if (!v.json) throw new NotAvailableError(`text output ${TOKENIZER_LATER}; add --json to print the generated token ids`);

  const promptIds = v['prompt-ids']!.split(',').map((s) => intFlag('prompt-ids', s, 0, 2 ** 31 - 1));
  if (promptIds.length === 0) throw new UsageError('--prompt-ids is empty');
  return { model: v.model, promptIds, maxTokens };
}

export async function generateCommand(argv: string[], io: CliIO): Promise<number> {
  const args = parseGenerateArgs(argv);
  if (args === 'help') {
    io.out(GENERATE_HELP);
    return 0;
  }
  const source = openSource(args.model);
  try {
    const t0 = performance.now();
    const plan = planModel(await readGGUF(source));
    const bad = args.promptIds.find((id) => id >= plan.hp.nVocab);
    if (bad !== undefined) throw new UsageError(`--prompt-ids: id ${bad} is outside the vocabulary of ${plan.hp.nVocab} tokens`);
    const headerMs = performance.now() - t0;
    void headerMs;
    // The CPU reference (src/reference) is written in parallel; this is where it plugs in.
    throw new NotAvailableError('generate --backend cpu needs the CPU reference forward (src/reference), which has not landed yet');
  } finally {
    await source.close?.();
  }
}
