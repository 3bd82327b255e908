// `webmoe generate --backend wasm [--threads N] [--expert-budget MB]`: the WASM CPU backend
// (src/wasm-backend: cpu.wasm, SIMD128; cpu-mt.wasm and N-1 worker threads above one; routed
// experts paged into heap slots under --expert-budget) behind the generate loop's one-forward-pass
// interface.
import { totalmem } from 'node:os';
import { ramBudget } from '../engine/memory.ts';
import type { ModelDownload } from '../fetch/download.ts';
import type { RangeSource } from '../gguf/source.ts';
import { WasmModel } from '../wasm-backend/model.ts';
import type { GenerateArgs } from './generate.ts';
import type { CliIO } from './io.ts';

export async function wasmBackend(source: RangeSource, nCtx: number, args: Pick<GenerateArgs, 'threads' | 'expertBudget' | 'ramBudget' | 'policy' | 'prefetch'>, io: CliIO, download?: ModelDownload) {
  const paged = args.expertBudget !== undefined;
  const ram = ramBudget(args.ramBudget, totalmem());
  if (ram.warning && paged) io.err(`webmoe generate: ${ram.warning}\n`);
  const model = await WasmModel.load(source, {
    nCtx, threads: args.threads,
    ...(paged && {
      expertBudget: args.expertBudget, ramBudget: ram.bytes, expertPolicy: args.policy, expertPrefetch: args.prefetch,
      // paged experts from a download: fetched ahead of it when the router picks one not stored yet
      experts: download && ((l: number, e: number) => download.ensureExpert(l, e)),
    }),
  });
  return {
    forward: async (ids: number[], wantLogits: boolean) => {
      const r = await model.forwardAsync(ids, { logits: wantLogits ? 'last' : 'none' });
      return { next: r.next, logits: r.logits?.[0] };
    },
    stats: (): Record<string, unknown> => ({ threads: model.threads, heapBytes: model.stats.heapBytes, weightBytes: model.stats.weightBytes, experts: model.expertStats }),
    destroy: () => model.close(),
  };
}
