// `webmoe inspect MODEL`: what a GGUF file is, from its header alone (a few range requests for a
// URL, however large the file). Values come from the metadata as stored, so inspect also describes
// files WebMoE cannot run; `supported` says whether the model plan accepts it, and why not.
import { readGGUF } from '../gguf/reader.ts';
import { openSource } from './store.ts';
import type { RangeSource } from '../gguf/source.ts';
import { type GGUFFile, type GGUFValue, typeName } from '../gguf/types.ts';
import { planModel } from '../model/plan.ts';
import { type CliIO, parseFlags, printJson, UsageError } from './io.ts';

export const INSPECT_HELP = `Usage: webmoe inspect MODEL [--tensors] [--metadata]

Reads only the GGUF header of MODEL (a local path or an http(s) URL that serves byte ranges) and
prints JSON: architecture, sizes, experts, vocabulary, tensor count and bytes, tensors by type.
Missing metadata is null. "supported" tells whether WebMoE can run the model, "unsupportedReason"
why not.

Options:
  --tensors    also list every tensor: name, type, shape (innermost first), offset, bytes
  --metadata   also print every metadata entry (arrays longer than 16 items as their length)
  -h, --help   this text
`;

/** A per-layer value (a number, or an array of numbers when it varies by layer), or null. */
type Size = number | number[] | null;

export interface InspectReport {
  source: string;
  ggufVersion: number;
  fileBytes: number | null;
  headerBytes: number;
  alignment: number;
  architecture: string | null;
  name: string | null;
  layers: Size;
  embeddingLength: Size;
  heads: Size;
  kvHeads: Size;
  headDim: Size;           // key length per head (elements); embedding / heads when not stored
  feedForwardLength: Size; // dense FFN width (elements)
  expertFeedForwardLength: Size;
  sharedExpertFeedForwardLength: Size;
  experts: Size;
  expertsUsed: Size;
  vocabSize: Size;         // vocab_size, else the length of tokenizer.ggml.tokens
  contextLength: Size;
  tensorCount: number;
  tensorBytes: number;     // sum of all tensors' data bytes
  tensorTypes: Record<string, number>; // tensors per GGML type name
  supported: boolean;
  unsupportedReason?: string;
  tensors?: { name: string; type: string; shape: number[]; offset: number; bytes: number }[];
  metadata?: Record<string, unknown>;
}

function size(v: GGUFValue | undefined): Size {
  if (v === undefined || typeof v === 'string' || typeof v === 'boolean') return null;
  if (Array.isArray(v)) {
    const nums = v.map(Number);
    if (nums.some((x) => !Number.isFinite(x))) return null;
    return nums.length > 0 && nums.every((x) => x === nums[0]) ? nums[0] : nums;
  }
  return Number(v);
}

/** The report of a parsed header; `fileBytes` is the source's size when it is known. */
export function inspectFile(file: GGUFFile, source: string, fileBytes: number | undefined): InspectReport {
  const m = (key: string) => file.metadata.get(key)?.value;
  const archValue = m('general.architecture');
  const arch = typeof archValue === 'string' ? archValue : null;
  const name = m('general.name');
  const a = (key: string) => (arch === null ? null : size(m(`${arch}.${key}`)));
  const embd = a('embedding_length'), heads = a('attention.head_count');
  const tokens = m('tokenizer.ggml.tokens');
  const tensorTypes: Record<string, number> = {};
  let tensorBytes = 0;
  for (const t of file.tensors) {
    tensorTypes[typeName(t.type)] = (tensorTypes[typeName(t.type)] ?? 0) + 1;
    tensorBytes += t.nBytes;
  }
  let reason: string | undefined;
  try {
    planModel(file);
  } catch (e) {
    reason = e instanceof Error ? e.message : String(e);
  }
  return {
    source,
    ggufVersion: file.version,
    fileBytes: fileBytes ?? null,
    headerBytes: file.headerBytes,
    alignment: file.alignment,
    architecture: arch,
    name: typeof name === 'string' ? name : null,
    layers: a('block_count'),
    embeddingLength: embd,
    heads,
    kvHeads: a('attention.head_count_kv') ?? heads,
    headDim: a('attention.key_length') ?? (typeof embd === 'number' && typeof heads === 'number' && heads > 0 ? embd / heads : null),
    feedForwardLength: a('feed_forward_length'),
    expertFeedForwardLength: a('expert_feed_forward_length'),
    sharedExpertFeedForwardLength: a('expert_shared_feed_forward_length'),
    experts: a('expert_count'),
    expertsUsed: a('expert_used_count'),
    vocabSize: a('vocab_size') ?? (Array.isArray(tokens) ? tokens.length : null),
    contextLength: a('context_length'),
    tensorCount: file.tensors.length,
    tensorBytes,
    tensorTypes,
    supported: reason === undefined,
    ...(reason !== undefined ? { unsupportedReason: reason } : {}),
  };
}

/** Reads the header of `source` and reports it. */
export async function inspectSource(source: RangeSource): Promise<{ report: InspectReport; file: GGUFFile }> {
  const file = await readGGUF(source);
  return { report: inspectFile(file, source.name, await source.size()), file };
}

export async function inspectCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('inspect', argv, {
    tensors: { type: 'boolean' },
    metadata: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, true);
  if (values.help) {
    io.out(INSPECT_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`inspect takes one MODEL (a path or URL), got ${positionals.length} (see: webmoe inspect --help)`);
  const source = openSource(positionals[0]);
  try {
    const { report, file } = await inspectSource(source);
    if (values.tensors) {
      report.tensors = file.tensors.map((t) => ({ name: t.name, type: typeName(t.type), shape: t.shape, offset: t.offset, bytes: t.nBytes }));
    }
    if (values.metadata) {
      report.metadata = Object.fromEntries([...file.metadata].map(([k, e]) => [
        k, Array.isArray(e.value) && e.value.length > 16 ? `[${e.value.length} items]` : e.value,
      ]));
    }
    printJson(io, report);
    return 0;
  } finally {
    await source.close?.();
  }
}
