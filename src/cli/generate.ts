// `webmoe generate`: runs a model on the WebGPU engine (src/engine; Dawn in Node) or the CPU
// reference (src/reference), from token ids or text (the WASM tokenizer), greedy or sampled (the
// WASM sampler), and prints the generated ids as JSON with timings, or streams the text.
import type { ModelDownload } from '../fetch/download.ts';
import { readGGUF } from '../gguf/reader.ts';
import type { RangeSource } from '../gguf/source.ts';
import type { GGUFFile } from '../gguf/types.ts';
import { totalmem } from 'node:os';
import { POLICIES, type PolicyName } from '../engine/eviction.ts';
import { ramBudget } from '../engine/memory.ts';
import { KERNEL_CHOICES, type KernelChoice } from '../gpu/variant.ts';
import { planModel } from '../model/plan.ts';
import { ReferenceModel } from '../reference/model.ts';
import { argmax } from '../reference/ops.ts';
import { runGeneration } from '../generate/loop.ts';
import { wasmBackend } from './generate-wasm.ts';
import { chatVocab, renderChat, type ChatTemplateOptions, type RenderedChat } from '../tokenizer/chat-template.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { type CliIO, intFlag, numFlag, parseFlags, printJson, UsageError } from './io.ts';
import { modelSource, STORE_HELP } from './store.ts';

export const GENERATE_HELP = `Usage: webmoe generate --model MODEL (--prompt TEXT | --prompt-ids IDS) [options]

Runs the model on the prompt and generates up to --max-tokens tokens, stopping early at an
end-of-generation token (EOS, EOT, <|im_end|>...) unless --ignore-eos.

Required:
  --model MODEL        a local .gguf path or an http(s) URL that serves byte ranges (a URL
                       goes through the store: resumable; generation starts before the
                       download completes, routed experts fetched as the router picks them)
  --prompt TEXT        the prompt as text, tokenized as llama.cpp does (special tokens parsed,
                       BOS added when the model asks for it)
  --prompt-ids IDS     or the prompt as comma-separated token ids, e.g. 5,17,42

Options:
  --chat               wrap the prompt as one user message in the model's chat template
                       (tokenizer.chat_template rendered as Jinja; a template that cannot be
                       rendered falls back to llama.cpp's built-in format for its family, and
                       stderr says so; --json reports "chatTemplate")
  --no-thinking        with --chat: the template's enable_thinking = false (Qwen3 and others
                       think unless told not to)
  --template-kwargs J  with --chat: more template variables as a JSON object, e.g.
                       '{"reasoning_effort":"low"}' for gpt-oss
  --max-tokens N       tokens to generate at most (default 32)
  --ignore-eos         do not stop at end-of-generation tokens
  --temperature X      0 = greedy, the most likely token (default); above 0 samples
  --top-k N  --top-p X  --min-p X  --seed N    sampling filters and seed (temperature > 0)
  --repeat-penalty X   divide (multiply if negative) the logits of the last --repeat-last-n
                       tokens by X, prompt included (default 1: off); greedy too
  --repeat-last-n N    how many recent tokens the penalty looks at (default 64)
  --stop TEXT          stop when the text contains TEXT, which is left out (repeatable)
  --backend B          cpu: the reference forward, plain TypeScript (default); webgpu: the
                       engine (Dawn's WebGPU in Node; on a machine without a GPU, SwiftShader);
                       wasm: the WASM CPU backend (C kernels with SIMD128)
  --threads N          wasm: threads for the matrix products (default 1; same results, bit
                       for bit, with any number)
  --kv-type T          webgpu: the KV cache's element type, auto (default: f16 where the adapter
                       has shader-f16, as llama.cpp's default cache; else f32), f16 or f32
  --kernels K          webgpu: kernel shapes, auto (default: software on CPU-backed adapters
                       such as SwiftShader and llvmpipe, hardware on GPUs), software or hardware;
                       --json reports "kernels"
  --expert-budget MB   webgpu or wasm, MoE models: GPU memory (wasm: WebAssembly heap) for
                       routed experts, in MB; only the experts the router picks are paged in
                       (the eviction policy makes room), so a model larger than the GPU (the
                       4 GiB heap) allows runs (default: all resident)
  --ram-budget MB      with --expert-budget: CPU memory for experts below the GPU (heap)
                       slots, in MB (default: a quarter of the machine's memory, at most 4096;
                       more than half of it is clamped, with a warning on stderr)
  --expert-policy P    with --expert-budget: eviction policy of both tiers, lru (default),
                       lfu-decay, lru-2 or layer-quota
  --no-prefetch        with --expert-budget: do not guess the next layer's experts
${STORE_HELP}
  --json               print JSON: "ids" (the generated ids only), "promptIds", "text" when the
                       vocabulary loads, "stop" (eog, stop-string or max-tokens) and timings;
                       without it the generated text is streamed to stdout
  -h, --help           this text
`;

export interface GenerateArgs {
  model: string;
  prompt: { ids: number[] } | { text: string; chat: boolean; template?: ChatTemplateOptions };
  maxTokens: number;
  ignoreEos: boolean;
  json: boolean;
  sampling: { temperature: number; topK?: number; topP?: number; minP?: number; seed?: number; repeatPenalty?: number; penaltyLastN?: number };
  stop: string[];
  backend: 'cpu' | 'webgpu' | 'wasm';
  /** --backend wasm: threads for the matrix products. */
  threads: number;
  kvType: 'auto' | 'f32' | 'f16';
  kernels: KernelChoice;
  /** Bytes. */
  expertBudget?: number;
  /** Bytes; undefined: the default from the machine's memory. */
  ramBudget?: number;
  policy: PolicyName;
  prefetch: boolean;
  store?: string;
}

/** One forward pass of either backend: the greedy next token, and the last logits if asked. */
interface Backend {
  forward(ids: number[], wantLogits: boolean): Promise<{ next: number; logits?: ArrayLike<number> }>;
  /** What the backend measured itself (GPU bytes, launches), for the JSON. */
  stats(): Record<string, unknown>;
  destroy(): void;
}

async function cpuBackend(source: RangeSource, nCtx: number, download?: ModelDownload): Promise<Backend> {
  // From a download, routed experts come on demand (ensureExpert) and the rest is read at load.
  const model = await ReferenceModel.load(source, { nCtx, experts: download && ((l, e) => download.ensureExpert(l, e)) });
  return {
    forward: async (ids) => {
      const [logits] = await model.forwardAsync(ids);
      return { next: argmax(logits), logits };
    },
    stats: () => ({}),
    destroy: () => {},
  };
}

async function webgpuBackend(source: RangeSource, nCtx: number, args: GenerateArgs, io: CliIO, download?: ModelDownload): Promise<Backend> {
  // Imported here: loading Dawn costs time, and the CPU path must not need it.
  const { WebGPUEngine } = await import('../engine/engine.ts');
  const ram = ramBudget(args.ramBudget, totalmem());
  if (ram.warning && args.expertBudget !== undefined) io.err(`webmoe generate: ${ram.warning}\n`);
  const engine = await WebGPUEngine.load(source, {
    nCtx, kvType: args.kvType, kernels: args.kernels, expertBudget: args.expertBudget, ramBudget: ram.bytes,
    paging: { policy: args.policy, prefetch: args.prefetch },
    // paged experts from a download: fetched ahead of it when the router picks one not stored yet
    experts: download && ((l, e) => download.ensureExpert(l, e)),
  });
  return {
    forward: async (ids, wantLogits) => {
      const r = await engine.forward(ids, { logits: wantLogits ? 'last' : 'none' });
      return { next: r.next, logits: r.logits?.[0] };
    },
    stats: () => ({ kvType: engine.kvType, kernels: engine.kernels, experts: engine.expertStats, gpuBytes: engine.stats.gpuBytes, launchesPerToken: engine.stats.launchesPerToken, bytesRead: engine.stats.bytesRead }),
    destroy: () => engine.destroy(),
  };
}

/** Parses and checks the flags, refusing what is not built yet before any byte is read. */
export function parseGenerateArgs(argv: string[]): GenerateArgs | 'help' {
  const str = { type: 'string' } as const, bool = { type: 'boolean' } as const;
  const { values: v } = parseFlags('generate', argv, {
    model: str, 'prompt-ids': str, prompt: str, 'max-tokens': str, temperature: str, backend: str, threads: str, store: str, 'kv-type': str, kernels: str, 'expert-budget': str,
    'ram-budget': str, 'expert-policy': str, 'no-prefetch': bool,
    'top-k': str, 'top-p': str, 'min-p': str, seed: str, 'repeat-penalty': str, 'repeat-last-n': str,
    stop: { type: 'string', multiple: true },
    json: bool, chat: bool, 'no-thinking': bool, 'template-kwargs': str, 'ignore-eos': bool, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return 'help';
  if (!v.model) throw new UsageError('generate needs --model MODEL (a .gguf path or URL)');
  if (v.prompt !== undefined && v['prompt-ids'] !== undefined) throw new UsageError('give --prompt or --prompt-ids, not both');
  if (v.prompt === undefined && v['prompt-ids'] === undefined) throw new UsageError('generate needs --prompt TEXT or --prompt-ids IDS');
  if (v.chat && v.prompt === undefined) throw new UsageError('--chat formats a text prompt: give --prompt TEXT');
  if ((v['no-thinking'] || v['template-kwargs'] !== undefined) && !v.chat) throw new UsageError('--no-thinking and --template-kwargs are for --chat');
  let templateKwargs: Record<string, unknown> | undefined;
  if (v['template-kwargs'] !== undefined) {
    try {
      templateKwargs = JSON.parse(v['template-kwargs']);
    } catch {
      templateKwargs = undefined;
    }
    if (typeof templateKwargs !== 'object' || templateKwargs === null || Array.isArray(templateKwargs)) {
      throw new UsageError(`--template-kwargs must be a JSON object, e.g. '{"reasoning_effort":"low"}', got ${v['template-kwargs']}`);
    }
  }
  const maxTokens = v['max-tokens'] !== undefined ? intFlag('max-tokens', v['max-tokens'], 0, 1 << 20) : 32;
  const temperature = v.temperature !== undefined ? numFlag('temperature', v.temperature) : 0;
  if (temperature < 0) throw new UsageError(`--temperature must be 0 or more, got ${temperature}`);
  const sampling: GenerateArgs['sampling'] = { temperature };
  if (v['top-k'] !== undefined) sampling.topK = intFlag('top-k', v['top-k'], 0);
  if (v['top-p'] !== undefined) sampling.topP = numFlag('top-p', v['top-p']);
  if (v['min-p'] !== undefined) sampling.minP = numFlag('min-p', v['min-p']);
  if (v.seed !== undefined) sampling.seed = intFlag('seed', v.seed, 0);
  if (temperature === 0 && Object.keys(sampling).length > 1) throw new UsageError('--top-k, --top-p, --min-p and --seed need --temperature above 0');
  // Penalties apply before greedy as before sampling (llama.cpp's order).
  if (v['repeat-penalty'] !== undefined) {
    sampling.repeatPenalty = numFlag('repeat-penalty', v['repeat-penalty']);
    if (sampling.repeatPenalty <= 0) throw new UsageError(`--repeat-penalty must be above 0, got ${sampling.repeatPenalty}`);
  }
  if (v['repeat-last-n'] !== undefined) sampling.penaltyLastN = intFlag('repeat-last-n', v['repeat-last-n'], 0, 1 << 20);
  const stop = v.stop ?? [];
  if (stop.some((s) => s.length === 0)) throw new UsageError('--stop needs a non-empty text');
  const backend = v.backend ?? 'cpu';
  if (backend !== 'cpu' && backend !== 'webgpu' && backend !== 'wasm') throw new UsageError(`--backend must be cpu, webgpu or wasm, got "${backend}"`);
  if (v.threads !== undefined && backend !== 'wasm') throw new UsageError('--threads is for --backend wasm');
  const threads = v.threads !== undefined ? intFlag('threads', v.threads, 1, 256) : 1;
  const kvType = v['kv-type'] ?? 'auto';
  if (kvType !== 'auto' && kvType !== 'f32' && kvType !== 'f16') throw new UsageError(`--kv-type must be auto, f32 or f16, got "${kvType}"`);
  if (v['kv-type'] !== undefined && backend !== 'webgpu') throw new UsageError('--kv-type is for --backend webgpu (the CPU reference keeps an f32 cache)');
  const kernels = (v.kernels ?? 'auto') as KernelChoice;
  if (!KERNEL_CHOICES.includes(kernels)) throw new UsageError(`--kernels must be ${KERNEL_CHOICES.join(', ')}, got "${kernels}"`);
  if (v.kernels !== undefined && backend !== 'webgpu') throw new UsageError('--kernels is for --backend webgpu');
  let expertBudget: number | undefined;
  if (v['expert-budget'] !== undefined) {
    if (backend === 'cpu') throw new UsageError('--expert-budget is for --backend webgpu or wasm (the CPU reference loads experts on demand, without a budget)');
    const mb = numFlag('expert-budget', v['expert-budget']);
    if (!(mb > 0)) throw new UsageError(`--expert-budget must be above 0 (MB), got ${mb}`);
    expertBudget = Math.floor(mb * 1e6);
  }
  const paging = ['ram-budget', 'expert-policy', 'no-prefetch'].filter((f) => v[f as keyof typeof v] !== undefined);
  if (paging.length && expertBudget === undefined) throw new UsageError(`--${paging[0]} is for paged experts: give --expert-budget MB too`);
  let ramBytes: number | undefined;
  if (v['ram-budget'] !== undefined) {
    const mb = numFlag('ram-budget', v['ram-budget']);
    if (!(mb >= 0)) throw new UsageError(`--ram-budget must be 0 or more (MB), got ${mb}`);
    ramBytes = Math.floor(mb * 1e6);
  }
  const policy = (v['expert-policy'] ?? 'lru') as PolicyName;
  if (!POLICIES.includes(policy)) throw new UsageError(`--expert-policy must be one of ${POLICIES.join(', ')}, got "${policy}"`);

  let prompt: GenerateArgs['prompt'];
  if (v.prompt !== undefined) {
    const template = { ...(v['no-thinking'] && { enableThinking: false }), ...(templateKwargs && { templateKwargs }) };
    prompt = { text: v.prompt, chat: !!v.chat, ...(Object.keys(template).length > 0 && { template }) };
  }
  else {
    const ids = v['prompt-ids']!.split(',').map((s) => intFlag('prompt-ids', s, 0, 2 ** 31 - 1));
    prompt = { ids };
  }
  return {
    model: v.model, prompt, maxTokens, ignoreEos: !!v['ignore-eos'], json: !!v.json, sampling, stop, backend, threads, kvType, kernels, expertBudget,
    ramBudget: ramBytes, policy, prefetch: !v['no-prefetch'], store: v.store,
  };
}

/** End-of-generation ids from the metadata, for when the tokenizer cannot be loaded. */
function metadataEog(file: GGUFFile): Set<number> {
  const ids = ['eos', 'eot', 'eom'].map((s) => file.metadata.get(`tokenizer.ggml.${s}_token_id`)?.value);
  return new Set(ids.filter((x): x is number => typeof x === 'number'));
}

const ms = (t: number) => Math.round(t * 100) / 100;

export async function generateCommand(argv: string[], io: CliIO): Promise<number> {
  const args = parseGenerateArgs(argv);
  if (args === 'help') {
    io.out(GENERATE_HELP);
    return 0;
  }
  const { source, download, summary } = await modelSource(args.model, args.store);
  let tok: Tokenizer | undefined;
  let backend: Backend | undefined;
  try {
    const t0 = performance.now();
    const file = await readGGUF(source);
    const plan = planModel(file);
    // Text in or out needs the vocabulary; ids in and JSON out use it when it loads (for the
    // text and llama.cpp's end-of-generation set), else the metadata's EOS/EOT ids.
    const needText = 'text' in args.prompt || !args.json || args.stop.length > 0;
    tok = needText ? await Tokenizer.fromGGUF(file) : await Tokenizer.fromGGUF(file).catch(() => undefined);

    let promptIds: number[];
    let chat: RenderedChat | undefined;
    if ('text' in args.prompt) {
      if (args.prompt.chat) {
        chat = renderChat([{ role: 'user', content: args.prompt.text }], tok!.chatTemplate, chatVocab(tok!), args.prompt.template);
        if (chat.fallback) io.err(`webmoe generate: the model's chat template could not be rendered (${chat.fallback}); using the built-in ${chat.via} format\n`);
      }
      promptIds = [...tok!.encode(chat ? chat.text : args.prompt.text, { addSpecial: true, parseSpecial: true })];
      if (promptIds.length === 0) throw new UsageError('the prompt is empty: it gives no tokens');
    } else {
      promptIds = args.prompt.ids;
      const bad = promptIds.find((id) => id >= plan.hp.nVocab);
      if (bad !== undefined) throw new UsageError(`--prompt-ids: id ${bad} is outside the vocabulary of ${plan.hp.nVocab} tokens`);
    }
    const eog = metadataEog(file);
    const isEog = (id: number) => (tok ? tok.isEog(id) : eog.has(id));

    // Either backend reads the header again (cheap) and every weight the plan names (on the CPU
    // from a URL: the routed experts when the router first picks them).
    const nCtx = promptIds.length + args.maxTokens;
    backend = args.backend === 'webgpu' ? await webgpuBackend(source, nCtx, args, io, download)
      : args.backend === 'wasm' ? await wasmBackend(source, nCtx, args, io, download) : await cpuBackend(source, nCtx, download);
    const loadMs = performance.now() - t0;
    // Plain greedy takes the backend's argmax (on the GPU: 4 bytes read back); sampling and the
    // repetition penalty need the logits. The loop is the one the engine worker runs too.
    const r = await runGeneration(backend, {
      promptIds, maxTokens: args.maxTokens, nVocab: plan.hp.nVocab, sampling: args.sampling, stop: args.stop,
      ignoreEos: args.ignoreEos, tokenizer: tok, isEog,
      onToken: args.json ? undefined : (_id, s) => io.out(s),
    });
    const { ids, stop, prefillMs, decodeMs, decodeTokens: decoded } = r;
    if (!args.json) {
      io.out('\n');
      return 0;
    }
    printJson(io, {
      model: source.name,
      backend: args.backend,
      promptIds,
      ...(chat && { chatTemplate: { via: chat.via, ...(chat.fallback !== undefined && { fallback: chat.fallback }) } }),
      ids,
      // When a stop string ended the generation, the text before it (the ids include the token
      // that completed it); otherwise the ids detokenized.
      ...(tok ? { text: stop === 'stop-string' ? r.text : tok.decode(ids) } : {}),
      stop,
      timings: {
        loadMs: ms(loadMs),
        prefillMs: ms(prefillMs),
        decodeMs: ms(decodeMs),
        prefillTokensPerSecond: ms((promptIds.length * 1000) / Math.max(prefillMs, 1e-3)),
        decodeTokensPerSecond: decoded > 0 ? ms((decoded * 1000) / Math.max(decodeMs, 1e-3)) : null,
      },
      ...backend.stats(),
      // the process's peak resident memory (Node: maxRSS in KiB)
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      ...(summary ? { download: summary() } : {}),
    });
    return 0;
  } finally {
    tok?.dispose();
    backend?.destroy();
    await source.close?.();
  }
}
