// Child process of tools/oracle/llamacpp.ts: runs llama.cpp (npm node-llama-cpp, prebuilt CPU
// binary) on the jobs read from stdin and writes one JSON line per result to stdout. Never
// imported by a test process: a GGML_ASSERT inside llama.cpp aborts the process that loaded it.
//
// The oracle configuration (createContext below):
//  - CPU only (gpu: false), the prebuilt binary (build: 'never'), threads = cpuMathCores (more
//    threads than cores makes decoding ~70x slower on these machines);
//  - flashAttention: false and an F32 KV cache (experimentalKvCacheKeyType/ValueType 'F32') unless
//    the job asks for 'f16' (llama.cpp's default): its flash-attention path casts K and V to F16
//    whatever the cache type; with it off, attention is f32 dot products over the cached keys and
//    values, which the reference computes for either cache type (src/reference/attention.ts).
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import type { GreedyJob, GreedyOutput, OracleJob, OracleOutput, WorkerLine } from './llamacpp-protocol.ts';

const TOP = 5;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(line: WorkerLine): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

async function greedy(llama: Llama, model: LlamaModel, job: GreedyJob): Promise<GreedyOutput> {
  const context = await model.createContext({
    contextSize: job.contextSize ?? 256,
    threads: job.threads ?? llama.cpuMathCores,
    flashAttention: false,
    experimentalKvCacheKeyType: job.kvType === 'f16' ? 'F16' : 'F32',
    experimentalKvCacheValueType: job.kvType === 'f16' ? 'F16' : 'F32',
  });
  try {
    const seq = context.getSequence();
    const next = { generateNext: { token: true, probabilities: true, logits: job.logits ?? false, options: { temperature: 0 } } } as const;
    const out: GreedyOutput = { type: 'greedy', ids: [], steps: [] };
    // The prompt goes in as one batch (as llama.cpp's own evaluate does), then one token per step.
    const head = job.prompt.slice(0, -1) as Token[];
    if (job.promptOneByOne) for (const t of head) await seq.controlledEvaluate([t]);
    let input: Parameters<typeof seq.controlledEvaluate>[0] = [
      ...(job.promptOneByOne ? [] : head),
      [job.prompt[job.prompt.length - 1] as Token, next],
    ];
    for (let i = 0; i < job.nTokens; i++) {
      const res = await seq.controlledEvaluate(input);
      const r = res[input.length - 1]?.next;
      if (r?.token == null || !r.probabilities) throw new Error(`llama.cpp returned no token at step ${i}`);
      const step: GreedyOutput['steps'][number] = { token: r.token, top: [...r.probabilities.entries()].slice(0, TOP) };
      if (r.logits) {
        const logits = new Array<number>(r.logits.size).fill(NaN);
        for (const [id, l] of r.logits) logits[id] = l;
        step.logits = logits;
      }
      out.ids.push(r.token);
      out.steps.push(step);
      input = [[(job.forced?.[i] ?? r.token) as Token, next]];
    }
    return out;
  } finally {
    await context.dispose();
  }
}

async function main(): Promise<void> {
  const jobs = JSON.parse(await readStdin()) as OracleJob[];
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    logLevel: LlamaLogLevel.warn,
    logger: (level: LlamaLogLevel, message: string) => process.stderr.write(`[llama.cpp ${level}] ${message.trimEnd()}\n`),
  });
  let loaded: { path: string; model: LlamaModel } | undefined;
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i];
    try {
      if (loaded?.path !== job.model) {
        await loaded?.model.dispose();
        loaded = undefined;
        loaded = { path: job.model, model: await llama.loadModel({ modelPath: job.model, gpuLayers: 0 }) };
      }
      const model = loaded.model;
      const ok: OracleOutput = job.type === 'greedy'
        ? await greedy(llama, model, job)
        : { type: 'tokenize', ids: model.tokenize(job.text) };
      send({ i, ok });
    } catch (e) {
      send({ i, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  await loaded?.model.dispose();
  await llama.dispose();
}

main().catch((e) => {
  process.stderr.write(`llamacpp-worker: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
